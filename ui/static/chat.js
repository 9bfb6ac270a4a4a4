/* 文答 Wenda: the chat page's script, inlined into the page head by the app (so it also runs
 * inside Gradio's web component on another site). The app fills in its configuration:
 * {texts: {zh: {...}, en: {...}}, limit, theme}.
 *
 * - language, theme (?theme=), accent colour (?color=) and compact mode (?compact=1) of the page;
 * - the question is checked before it is sent (empty, too long) with a counter under the box;
 * - while a reply is pending, Send and the examples are disabled and Enter does nothing; a
 *   request that fails (server down, connection lost) says so in the page's language and puts
 *   the question back in the box;
 * - the conversation is kept in the browser (localStorage, per site and app) and shown again on
 *   load; Clear empties it;
 * - copy-citation buttons, "展开所在小节" (the passage's whole section, from /api/section), new
 *   replies scrolled into view from their answer line;
 * - in the widget's frame: Esc closes the panel, and the panel can move focus into the chat;
 * - Gradio's English-only labels (messages, conversation) in the page's language.
 */
(() => {
  "use strict";
  if (window.wenda) return;
  const config = __WENDA_CONFIG__;
  const element = document.querySelector("gradio-app[src]");  // the web component, on another site
  const address = new URL(element ? element.getAttribute("src") : window.location.href, window.location.href);
  const params = address.searchParams;
  const lang = (params.get("lang") || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  const t = config.texts[lang];
  const say = (key, values) => t[key].replace(/\{(\w+)(?::[^}]*)?\}/g, (_, name) => String(values[name]));
  const compact = params.get("compact") === "1";
  const framed = window.parent !== window;
  const base = new URL("./", address);
  const storageKey = `wenda:chat:v1:${base.origin}${base.pathname}`;
  const $ = (selector) => document.querySelector(selector);
  const $$ = (selector) => Array.from(document.querySelectorAll(selector));

  // Gradio has read the language by now: give the page (or host site) its own navigator back
  if (window.__wendaLocale) {
    try { delete window.navigator.language; delete window.navigator.languages; } catch (error) { /* kept */ }
    delete window.__wendaLocale;
  }
  if (!element) {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    if (compact) document.documentElement.classList.add("wd-compact");
  }

  // ---- theme and accent colour -------------------------------------------------------------
  const rgb = (hex) => {
    const value = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, (c) => c + c) : hex;
    return [1, 3, 5].map((i) => parseInt(value.slice(i, i + 2), 16));
  };
  const luminance = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const hex = (c) => "#" + c.map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const towards = (c, target, step) => c.map((v, i) => v + (target[i] - v) * step);
  const readable = (c, background, need) => {  // the accent, darkened or lightened until it reads on background
    const target = luminance(background) > 0.4 ? [0, 0, 0] : [255, 255, 255];
    let colour = c;
    for (let i = 0; i < 20 && contrast(colour, background) < need; i += 1) colour = towards(colour, target, 0.12);
    return colour;
  };
  const onAccent = (c) => (contrast(c, [255, 255, 255]) >= contrast(c, [17, 24, 39]) ? "#ffffff" : "#111827");
  const accent = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(params.get("color") || "") ? rgb(params.get("color")) : null;
  if (accent) {
    const root = element || document.documentElement;
    const styles = {
      "--wd-accent": hex(accent),
      "--wd-on-accent": onAccent(accent),
      "--wd-accent-light-text": hex(readable(accent, [243, 244, 246], 4.8)),
      "--wd-accent-dark-text": hex(readable(accent, [31, 41, 55], 4.8)),
    };
    Object.entries(styles).forEach(([name, value]) => root.style.setProperty(name, value));
  }

  // ---- asking: validation, counter, pending state, failures --------------------------------
  const input = () => $("#wd-input textarea");
  const sendButton = () => $("#wd-send");
  const limit = () => Number(($(".wd-status[data-limit]") || {}).dataset?.limit || config.limit);
  const message = (value, kind) => {
    const box = $(".wd-status .wd-message");
    if (!box) return;
    box.textContent = value || "";
    box.className = `wd-message${kind ? " wd-" + kind : ""}`;
  };
  const count = () => {
    const box = $(".wd-status .wd-counter");
    const field = input();
    if (!box || !field) return;
    const n = field.value.length;
    box.textContent = say("counter", { n, limit: limit() });
    box.classList.toggle("wd-over", n > limit());
  };
  const problem = (question) => {
    if (!question.trim()) return say("empty", {});
    if (question.length > limit()) return say("too_long", { limit: limit(), n: question.length });
    return null;
  };
  let busy = false;
  let asked = "";
  // a question whose request failed: kept for this tab, since Gradio reloads the page when it reconnects
  const unsent = {
    key: `${storageKey}:unsent`,
    take() { try { const v = sessionStorage.getItem(this.key); sessionStorage.removeItem(this.key); return v; } catch (e) { return null; } },
    keep(value) { try { sessionStorage.setItem(this.key, value); } catch (e) { /* off */ } },
  };
  let watchdog = null;
  const lock = (on) => {
    [sendButton(), ...$$(".wd-example")].forEach((button) => {
      if (!button) return;
      if (on) { button.setAttribute("disabled", ""); button.setAttribute("aria-disabled", "true"); }
      else { button.removeAttribute("disabled"); button.removeAttribute("aria-disabled"); }
    });
    const chat = $("#wd-chatbot");
    if (chat) chat.setAttribute("aria-busy", on ? "true" : "false");
  };
  const setInput = (value) => {
    const field = input();
    if (!field) return;
    const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
    setter.call(field, value);
    field.dispatchEvent(new Event("input", { bubbles: true }));
    count();
  };
  const begin = (question) => {
    busy = true;
    asked = question;
    message("");
    setTimeout(() => lock(true), 0);  // after Gradio has taken this click or Enter
    clearTimeout(watchdog);
    watchdog = setTimeout(() => busy && failed(), 120000);  // a reply that never comes
  };
  const failed = () => {
    if (!busy) return;
    busy = false;
    clearTimeout(watchdog);
    lock(false);
    $$("#wd-chatbot .wd-pending").forEach((pending) => {
      pending.textContent = say("interrupted", {});
      pending.classList.add("wd-failed");
      pending.removeAttribute("role");
    });
    unsent.keep(asked);
    if (input() && !input().value) setInput(asked);
    message(say("failed", {}), "error");
  };
  // Gradio reloads the page when it finds a restarted server: a question still on its way is kept
  window.addEventListener("pagehide", () => { if (busy) unsent.keep(asked); });
  const intercept = (event, question) => {
    if (busy) { event.preventDefault(); event.stopImmediatePropagation(); return; }
    const why = problem(question);
    if (why) {
      event.preventDefault();
      event.stopImmediatePropagation();
      message(why, "error");
      if (input()) input().focus();
      return;
    }
    begin(question);
  };
  document.addEventListener("click", (event) => {
    const path = event.composedPath();
    const send = path.find((el) => el.id === "wd-send");
    const example = path.find((el) => el.classList && el.classList.contains("wd-example"));
    if (send) intercept(event, input() ? input().value : "");
    else if (example) intercept(event, example.textContent.trim());
  }, true);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    if (!event.composedPath().some((el) => el.id === "wd-input")) return;
    intercept(event, event.target.value || "");
  }, true);
  document.addEventListener("input", (event) => {
    if (event.composedPath().some((el) => el.id === "wd-input")) {
      count();
      if (!busy) message("");
    }
  }, true);
  const originalFetch = window.fetch;
  window.fetch = function (resource, options) {
    const url = String((resource && resource.url) || resource);
    const request = originalFetch.apply(this, arguments);
    if (!busy || !/gradio_api\/(run\/predict|queue\/join)/.test(url)) return request;
    return request.then(
      (response) => { if (!response.ok) failed(); return response; },
      (error) => { failed(); throw error; },
    );
  };

  // ---- the conversation kept in the browser ------------------------------------------------
  const store = {
    read() { try { return window.localStorage.getItem(storageKey); } catch (error) { return null; } },
    write(value) { try { window.localStorage.setItem(storageKey, value); } catch (error) { /* full or off */ } },
    clear() { try { window.localStorage.removeItem(storageKey); } catch (error) { /* off */ } },
  };

  // ---- copy citation, whole section ---------------------------------------------------------
  const fallbackCopy = (value) => {
    const area = document.createElement("textarea");
    area.value = value; area.setAttribute("readonly", "");
    area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
  };
  const copy = (button) => {
    const value = button.value || "";  // Gradio's sanitizer keeps standard attributes only: no data-*
    const done = () => {
      const label = button.textContent;
      button.textContent = say("copied", {});
      button.setAttribute("data-copied", value);
      setTimeout(() => { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, () => { fallbackCopy(value); done(); });
    } else { fallbackCopy(value); done(); }
  };
  const section = async (button) => {
    const passage = button.closest(".wd-passage");
    const open = passage.querySelector(":scope > .wd-section-text");
    if (open) {
      const hide = !open.hidden;
      open.hidden = hide;
      button.textContent = say(hide ? "section" : "section_hide", {});
      button.setAttribute("aria-expanded", String(!hide));
      return;
    }
    const box = document.createElement("div");
    box.className = "wd-section-text";
    box.setAttribute("role", "region");
    box.textContent = say("section_loading", {});
    passage.appendChild(box);
    button.setAttribute("aria-expanded", "true");
    button.textContent = say("section_hide", {});
    try {
      const where = JSON.parse(button.value);
      const url = new URL("api/section", base);
      Object.entries(where).forEach(([name, value]) => url.searchParams.set(name, value));
      const response = await originalFetch(url.toString());
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      box.textContent = "";
      if (data.heading) {
        const heading = document.createElement("p");
        heading.className = "wd-section-heading";
        heading.textContent = data.heading;
        box.appendChild(heading);
      }
      const body = document.createElement("p");
      const [from, to] = data.passage;
      const here = document.createElement("span");
      here.className = "wd-here";
      here.textContent = data.text.slice(from, to);
      body.append(data.text.slice(0, from), here, data.text.slice(to));
      box.setAttribute("aria-label", data.heading || button.textContent);
      box.appendChild(body);
    } catch (error) {
      box.textContent = say("section_failed", {});
    }
  };
  document.addEventListener("click", (event) => {
    const path = event.composedPath();
    const button = path.find((el) => el.classList && (el.classList.contains("wd-copy") || el.classList.contains("wd-section")));
    if (!button) return;
    event.preventDefault(); event.stopPropagation();
    if (button.classList.contains("wd-copy")) copy(button); else section(button);
  }, true);

  // ---- new replies into view; Gradio's labels in the page's language ------------------------
  const scroller = (el) => {
    for (let box = el.parentElement; box; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowY;
      if ((overflow === "auto" || overflow === "scroll") && box.scrollHeight > box.clientHeight) return box;
    }
    return null;
  };
  const revealed = new WeakSet();
  const reveal = () => {
    const replies = $$("#wd-chatbot .wd-answer, #wd-chatbot .wd-error, #wd-chatbot .wd-pending");
    const last = replies[replies.length - 1];
    if (!last || revealed.has(last)) return;
    replies.forEach((reply) => revealed.add(reply));
    const box = scroller(last);
    if (box) {
      const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
      box.scrollTo({ top: Math.max(0, top - 96), behavior: "smooth" });  // keep the question in sight
    }
  };
  const shorten = (value) => (value.length > 160 ? value.slice(0, 160) + "…" : value);
  const relabel = () => {
    $$("#wd-chatbot [data-testid='user'], #wd-chatbot [data-testid='bot']").forEach((node) => {
      const key = node.getAttribute("data-testid") === "user" ? "user_message" : "bot_message";
      const label = say(key, {}) + shorten(node.textContent.trim().replace(/\s+/g, " "));
      if (node.getAttribute("aria-label") !== label) node.setAttribute("aria-label", label);
    });
    $$("#wd-chatbot [role='log']").forEach((node) => {
      if (node.getAttribute("aria-label") !== say("conversation", {})) node.setAttribute("aria-label", say("conversation", {}));
    });
    if (busy) lock(true);
    if (!$(".wd-status .wd-counter")?.textContent) count();
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; reveal(); relabel(); });
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });

  // ---- inside the widget's frame ------------------------------------------------------------
  if (framed && compact) {
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") window.parent.postMessage({ type: "wenda:close" }, "*");
    }, true);
    window.addEventListener("message", (event) => {
      if (event.source === window.parent && event.data && event.data.type === "wenda:focus" && input()) input().focus();
    });
  }

  window.wenda = {
    lang,
    /** What the server needs on load: the page's language, compact mode and the kept conversation. */
    boot() {  // also after Gradio reconnects, which starts the app afresh
      busy = false;
      clearTimeout(watchdog);
      return JSON.stringify({ lang, compact, saved: store.read() });
    },
    /** A reply has come (or an error was shown in the chat): unlock, and keep the conversation. */
    done(saved) {
      busy = false;
      unsent.take();
      clearTimeout(watchdog);
      lock(false);
      if (saved) store.write(saved);
      count();
    },
    cleared() { store.clear(); message(""); count(); },
    ready() {
      lock(false);
      count();
      const kept = unsent.take();
      if (kept) {  // Gradio lost the connection and started again: the question goes back in the box
        setInput(kept);
        message(say("reconnected", {}), "error");
      }
      if (framed && compact) window.parent.postMessage({ type: "wenda:ready" }, "*");
    },
  };
})();
