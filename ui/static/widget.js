/* 文答 Wenda chat widget: a floating button that opens the chat in a panel.
 *
 *   <script src="https://qa.example.com/widget.js" data-title="新闻问答" data-color="#1a56b0"
 *           data-text-color="#ffffff" data-position="right" data-lang="zh" defer></script>
 *
 * Options (all optional): data-title (panel title), data-color (button and header colour),
 * data-text-color, data-position ("right" or "left", bottom corner), data-lang ("zh" or "en",
 * the widget's and the chat's interface language), data-open ("true": open on load).
 * The chat runs in an <iframe> from the app's own origin; the app only lets sites listed in
 * its allowed_origins setting frame it. Nothing else is loaded and no data is stored.
 * window.WendaWidget.open() / .close() / .toggle() control it from the page.
 */
(() => {
  "use strict";
  if (window.WendaWidget) return;
  const script = document.currentScript || document.querySelector('script[src$="widget.js"]');
  if (!script) return;
  const app = new URL("./", script.src);
  const labels = {
    zh: { title: "新闻问答", open: "打开问答", close: "关闭" },
    en: { title: "News Q&A", open: "Open the Q&A chat", close: "Close" },
  };
  const lang = (script.dataset.lang || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  const colour = (value, fallback) => (/^(#[0-9a-f]{3,8}|[a-z]{3,20}|rgba?\([0-9., %]+\))$/i.test(value || "") ? value : fallback);
  const options = {
    title: (script.dataset.title || labels[lang].title).slice(0, 80),
    color: colour(script.dataset.color, "#1a56b0"),
    textColor: colour(script.dataset.textColor, "#ffffff"),
    side: script.dataset.position === "left" ? "left" : "right",
    open: script.dataset.open === "true",
  };

  const host = document.createElement("div");
  host.id = "wenda-widget";
  const root = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = `
    :host { all: initial; }
    .button { position: fixed; bottom: 20px; ${options.side}: 20px; z-index: 2147483000; width: 56px; height: 56px;
      border-radius: 50%; border: 0; cursor: pointer; background: var(--wd-color); color: var(--wd-text);
      box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center; }
    .button:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
    .button svg { width: 28px; height: 28px; fill: currentColor; }
    .panel { position: fixed; bottom: 88px; ${options.side}: 20px; z-index: 2147483000; display: none;
      width: min(440px, calc(100vw - 24px)); height: min(680px, calc(100vh - 110px)); background: #fff;
      border-radius: 12px; overflow: hidden; box-shadow: 0 10px 40px rgba(0,0,0,.3); flex-direction: column; }
    .panel.open { display: flex; }
    .header { display: flex; align-items: center; justify-content: space-between; padding: 10px 14px;
      background: var(--wd-color); color: var(--wd-text); font: 600 15px/1.4 system-ui, "Noto Sans CJK SC", sans-serif; }
    .close { background: transparent; border: 0; color: inherit; font-size: 22px; line-height: 1; cursor: pointer; }
    iframe { flex: 1; width: 100%; border: 0; background: #fff; }
  `;
  host.style.setProperty("--wd-color", options.color);
  host.style.setProperty("--wd-text", options.textColor);

  const button = document.createElement("button");
  button.className = "button";
  button.type = "button";
  button.setAttribute("aria-label", labels[lang].open);
  button.setAttribute("aria-expanded", "false");
  button.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6v2h2v-2H7zm4 0v2h2v-2h-2zm4 0v2h2v-2h-2z"/></svg>';

  const panel = document.createElement("div");
  panel.className = "panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", options.title);
  const header = document.createElement("div");
  header.className = "header";
  const title = document.createElement("span");
  title.className = "title";
  title.textContent = options.title;
  const close = document.createElement("button");
  close.className = "close";
  close.type = "button";
  close.setAttribute("aria-label", labels[lang].close);
  close.textContent = "×";
  header.append(title, close);
  panel.append(header);

  let frame = null;
  const openPanel = () => {
    if (!frame) {  // the chat loads on first open only
      frame = document.createElement("iframe");
      frame.className = "chat";
      frame.title = options.title;
      frame.allow = "clipboard-write";
      frame.referrerPolicy = "strict-origin-when-cross-origin";
      frame.src = new URL(`?lang=${lang}&compact=1`, app).toString();
      panel.append(frame);
    }
    panel.classList.add("open");
    button.setAttribute("aria-expanded", "true");
  };
  const closePanel = () => {
    panel.classList.remove("open");
    button.setAttribute("aria-expanded", "false");
  };
  const toggle = () => (panel.classList.contains("open") ? closePanel() : openPanel());
  button.addEventListener("click", toggle);
  close.addEventListener("click", () => { closePanel(); button.focus(); });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") closePanel(); });

  root.append(style, panel, button);
  const mount = () => {
    document.body.appendChild(host);
    if (options.open) openPanel();
  };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.WendaWidget = { open: openPanel, close: closePanel, toggle };
})();
