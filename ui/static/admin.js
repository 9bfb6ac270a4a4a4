// The admin page: every request carries the token in an Authorization header (never a cookie).
// The token is typed by the operator and kept in sessionStorage (this tab only). Text from the
// server is always set with textContent, never as HTML.
(function () {
  "use strict";
  var KEY = "wenda-admin-token";
  var state = { offset: 0, limit: 50, query: "", matched: 0, polling: null };
  var $ = function (id) { return document.getElementById(id); };

  function token() { return sessionStorage.getItem(KEY) || ""; }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ Authorization: "Bearer " + token() }, options.headers || {});
    options.cache = "no-store";
    return fetch(path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 401) { signOut("令牌错误或缺失 / wrong or missing token"); }
        if (response.status === 429) { signOut(body.error || "too many attempts"); }
        if (!response.ok) { var error = new Error(body.error || ("HTTP " + response.status)); error.status = response.status; throw error; }
        return body;
      });
    });
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    $("console").hidden = true;
    $("login").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    if (state.polling) { clearInterval(state.polling); state.polling = null; }
  }

  function signIn() {
    return api("/admin/api/overview").then(function (overview) {
      $("login").hidden = true;
      $("console").hidden = false;
      showOverview(overview);
      loadArticles();
      loadFeedback();
      if (!state.polling) { state.polling = setInterval(refreshOverview, 2000); }
    });
  }

  function refreshOverview() {
    return api("/admin/api/overview").then(showOverview).catch(function () {});
  }

  function showOverview(o) {
    var info = $("index-info"), h = o.health || {};
    info.textContent = "";
    [["目录 Directory", o.index], ["代 Generation", h.generation], ["加载于 Loaded at", h.loaded_at],
     ["文章 Articles", h.articles], ["段落 Chunks", h.chunks], ["模型 Model", h.model],
     ["反馈日志 Feedback log", o.feedback_log || "未开启 off (--feedback-log)"]].forEach(function (pair) {
      info.appendChild(el("dt", pair[0]));
      info.appendChild(el("dd", pair[1] === undefined || pair[1] === null ? "—" : pair[1]));
    });
    if (h.refused) {
      info.appendChild(el("dt", "已拒绝 Refused"));
      info.appendChild(el("dd", h.refused.generation + ": " + h.refused.reason, "error"));
    }
    $("upload-help").textContent = "格式 Formats: " + o.suffixes.join(", ") + " · 上限 limit " +
      Math.round(o.upload_limit / 1048576) + " MiB · 同名文章会被替换 an article with the same id is replaced";
    showJob(o.job, o.busy);
    var list = $("actions");
    list.textContent = "";
    (o.actions || []).forEach(function (a) {
      list.appendChild(el("li", a.time + " · " + a.action + " " + a.target + " · " + a.result, a.ok ? "" : "error"));
    });
  }

  function showJob(job, busy) {
    $("job").hidden = !job;
    if (!job) { return; }
    var pct = job.total ? Math.round(100 * job.done / job.total) : (job.ok === null ? 0 : 100);
    var stages = { read: "读取 reading", chunk: "切分 chunking", embed: "计算向量 embedding", write: "写入 writing" };
    $("job-text").textContent = busy
      ? "正在处理 Working: " + job.action + " " + job.target + " — " + (stages[job.stage] || job.stage) +
        (job.total ? " " + job.done + " / " + job.total : "")
      : "上次操作 Last change: " + job.action + " " + job.target + " — " + (job.ok ? "✓ " : "✗ ") + (job.result || "");
    $("job-bar").style.width = (busy ? pct : 100) + "%";
  }

  function loadArticles() {
    var url = "/admin/api/articles?offset=" + state.offset + "&limit=" + state.limit + "&q=" + encodeURIComponent(state.query);
    return api(url).then(function (data) {
      state.matched = data.matched;
      $("article-count").textContent = data.matched + " / " + data.total + " 篇文章 articles" +
        (data.matched ? " · " + (data.offset + 1) + "–" + Math.min(data.offset + state.limit, data.matched) : "");
      var body = $("articles").querySelector("tbody");
      body.textContent = "";
      data.articles.forEach(function (a) {
        var row = document.createElement("tr");
        row.dataset.id = a.id;
        var title = el("td");
        title.appendChild(el("div", a.title));
        title.appendChild(el("small", a.id));
        row.appendChild(title);
        row.appendChild(el("td", a.source || "—"));
        row.appendChild(el("td", a.date || "—"));
        row.appendChild(el("td", a.url || "—", "url"));
        row.appendChild(el("td", a.chunks));
        row.appendChild(el("td", a.added || "—"));
        var cell = el("td"), button = el("button", "删除 Remove", "remove");
        button.type = "button";
        button.addEventListener("click", function () { removeArticle(a, button); });
        cell.appendChild(button);
        row.appendChild(cell);
        body.appendChild(row);
      });
      $("prev").disabled = state.offset === 0;
      $("next").disabled = state.offset + state.limit >= data.matched;
    });
  }

  function loadFeedback() {
    return api("/admin/api/feedback?limit=100").then(function (data) {
      var box = $("feedback");
      box.textContent = "";
      if (!data.configured) { box.appendChild(el("p", "反馈日志未开启：用 --feedback-log FILE 启动服务。 Feedback log is off: start with --feedback-log FILE.")); return; }
      if (!data.entries.length) { box.appendChild(el("p", "还没有反馈。 No feedback yet.")); return; }
      data.entries.forEach(function (e) {
        var entry = el("div", null, "entry");
        var head = el("div");
        head.appendChild(el("span", e.verdict === "up" ? "▲ 赞 up · " : "▼ 踩 down · ", "verdict-" + e.verdict));
        head.appendChild(el("span", e.time || "", ""));
        entry.appendChild(head);
        entry.appendChild(el("div", "问 Q: " + (e.question || ""), "q"));
        entry.appendChild(el("div", "答 A: " + (e.answer || (e.abstained ? "（未作答 abstained）" : "—"))));
        (e.passages || []).forEach(function (p) {
          var quote = el("blockquote");
          quote.appendChild(el("div", "[" + p.rank + "] " + (p.article_title || p.article_id) + " · ¶" + (p.paragraph || "?")));
          if (p.text) { quote.appendChild(el("div", p.text)); }
          entry.appendChild(quote);
        });
        box.appendChild(entry);
      });
    });
  }

  function removeArticle(article, button) {
    if (!window.confirm("删除这篇文章？ Remove this article?\n" + article.title + "\n(" + article.id + ")")) { return; }
    button.disabled = true;
    api("/admin/api/remove", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ id: article.id }) })
      .then(function (result) { say(result.summary, true); return Promise.all([loadArticles(), refreshOverview()]); })
      .catch(function (error) { say(error.message, false); button.disabled = false; });
  }

  function say(message, ok) {
    var node = $("upload-result");
    node.textContent = message;
    node.className = ok ? "ok" : "error";
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    signIn().catch(function (error) { if (error.status !== 401 && error.status !== 429) { signOut(error.message); } });
  });
  $("logout").addEventListener("click", function () { signOut(""); });
  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    state.query = $("search").value;
    state.offset = 0;
    loadArticles();
  });
  $("prev").addEventListener("click", function () { state.offset = Math.max(0, state.offset - state.limit); loadArticles(); });
  $("next").addEventListener("click", function () { state.offset += state.limit; loadArticles(); });
  $("upload-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var file = $("upload-file").files[0];
    if (!file) { return; }
    $("upload-button").disabled = true;
    say("正在上传并索引… Uploading and indexing…", true);
    var fast = setInterval(refreshOverview, 500);
    api("/admin/api/upload?name=" + encodeURIComponent(file.name), {
      method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file
    }).then(function (result) {
      say(result.summary, true);
      $("upload-file").value = "";
      return Promise.all([loadArticles(), refreshOverview()]);
    }).catch(function (error) { say(error.message, false); })
      .then(function () { clearInterval(fast); $("upload-button").disabled = false; });
  });

  if (token()) { signIn().catch(function (error) { signOut(error.message); }); } else { signOut(""); }
})();
