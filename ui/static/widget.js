/* 文答 Wenda chat widget: a floating button that opens the chat in a panel.
 *
 *   <script src="https://qa.example.com/widget.js" data-title="新闻问答" data-color="#1a56b0"
 *           data-position="right" data-lang="zh" data-theme="auto" defer></script>
 *
 * Options (all optional): data-title (panel title), data-color (button, header and the chat's
 * accents, #RGB or #RRGGBB), data-text-color (text on that colour; by default, and whenever the
 * one given reads worse than 4.5:1, white or near-black, whichever reads better),
 * data-position ("right" or "left", bottom corner), data-lang ("zh" or "en", the widget's and
 * the chat's interface language), data-theme ("light", "dark" or "auto": the reader's system
 * setting), data-open ("true": open on load).
 * The chat runs in an <iframe> from the app's own origin; the app only lets sites listed in
 * its allowed_origins setting frame it. Below 600 px the panel fills the screen. Opening it
 * moves focus into the chat; Esc (anywhere in the panel or the chat) closes it and gives focus
 * back to the button. The chat keeps the conversation in the browser's storage for this site.
 * window.WendaWidget.open() / .close() / .toggle() control it from the page.
 */
(() => {
  "use strict";
  if (window.WendaWidget) return;
  const script = document.currentScript || document.querySelector('script[src$="widget.js"]');
  if (!script) return;
  const app = new URL("./", script.src);
  const labels = {
    zh: { title: "新闻问答", open: "打开问答", close: "关闭问答" },
    en: { title: "News Q&A", open: "Open the Q&A chat", close: "Close the Q&A chat" },
  };
  const lang = (script.dataset.lang || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  const hexColour = (value) => (/^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test((value || "").trim()) ? value.trim() : null);
  const rgb = (hex) => {
    const value = hex.length === 4 ? hex.replace(/[0-9a-f]/gi, (c) => c + c) : hex;
    return [1, 3, 5].map((i) => parseInt(value.slice(i, i + 2), 16));
  };
  const luminance = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [x, y] = [luminance(rgb(a)), luminance(rgb(b))].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const color = hexColour(script.dataset.color) || "#1a56b0";
  const given = hexColour(script.dataset.textColor);
  const best = contrast(color, "#ffffff") >= contrast(color, "#111827") ? "#ffffff" : "#111827";
  const theme = ["light", "dark"].includes((script.dataset.theme || "").toLowerCase()) ? script.dataset.theme.toLowerCase() : "auto";
  const options = {
    title: (script.dataset.title || labels[lang].title).slice(0, 80),
    color,
    textColor: given && contrast(color, given) >= 4.5 ? given : best,
    side: script.dataset.position === "left" ? "left" : "right",
    open: script.dataset.open === "true",
    theme,
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
    .button:focus-visible, .close:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
    .button svg { width: 28px; height: 28px; fill: currentColor; }
    .panel { position: fixed; bottom: 88px; ${options.side}: 20px; z-index: 2147483000; display: none;
      width: min(440px, calc(100vw - 24px)); height: min(680px, calc(100vh - 110px)); background: var(--wd-bg);
      border-radius: 12px; overflow: hidden; box-shadow: 0 10px 40px rgba(0,0,0,.3); flex-direction: column;
      --wd-bg: #ffffff; }
    .panel.dark { --wd-bg: #0b0f19; }
    .panel.open { display: flex; }
    .header { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 6px 6px 6px 14px;
      background: var(--wd-color); color: var(--wd-text); font: 600 15px/1.4 system-ui, "Noto Sans CJK SC", sans-serif; }
    .title { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .close { flex: 0 0 auto; width: 44px; height: 44px; background: transparent; border: 0; border-radius: 8px;
      color: inherit; font-size: 26px; line-height: 1; cursor: pointer; }
    iframe { flex: 1; width: 100%; min-height: 0; border: 0; background: var(--wd-bg); }
    @media (max-width: 600px) {
      .panel { inset: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; box-shadow: none; }
      .panel.open ~ .button { display: none; }
    }
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
  panel.id = "wenda-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", options.title);
  panel.setAttribute("lang", lang === "en" ? "en" : "zh-CN");
  const dark = () => options.theme === "dark" || (options.theme === "auto" && window.matchMedia?.("(prefers-color-scheme: dark)").matches);
  button.setAttribute("aria-controls", panel.id);
  const header = document.createElement("div");
  header.className = "header";
  const title = document.createElement("span");
  title.className = "title";
  title.textContent = options.title;
  const close = document.createElement("button");
  close.className = "close";
  close.type = "button";
  close.setAttribute("aria-label", labels[lang].close);
  close.title = labels[lang].close;
  close.textContent = "×";
  header.append(title, close);
  panel.append(header);

  let frame = null;
  let ready = false;
  const isOpen = () => panel.classList.contains("open");
  const focusChat = () => {  // into the chat's question box (the frame moves its own focus)
    if (!frame || !ready) return;
    frame.focus();
    frame.contentWindow.postMessage({ type: "wenda:focus" }, app.origin);
  };
  const openPanel = (focus = true) => {
    if (!frame) {  // the chat loads on first open only
      frame = document.createElement("iframe");
      frame.className = "chat";
      frame.title = options.title;
      frame.allow = "clipboard-write";
      frame.referrerPolicy = "strict-origin-when-cross-origin";
      const query = new URLSearchParams({ lang, compact: "1", theme: options.theme, color: options.color });
      frame.src = new URL(`?${query}`, app).toString();
      panel.append(frame);
    }
    panel.classList.toggle("dark", Boolean(dark()));
    panel.classList.add("open");
    button.setAttribute("aria-expanded", "true");
    if (focus) {
      close.focus();  // focus is in the panel at once, and in the question box once the chat is ready
      focusChat();
    }
  };
  const closePanel = (refocus = true) => {
    if (!isOpen()) return;
    panel.classList.remove("open");
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  };
  const toggle = () => (isOpen() ? closePanel() : openPanel());
  button.addEventListener("click", () => toggle());
  close.addEventListener("click", () => closePanel());
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && isOpen()) closePanel(); });
  window.addEventListener("message", (event) => {
    if (!frame || event.source !== frame.contentWindow || event.origin !== app.origin) return;
    const type = event.data && event.data.type;
    if (type === "wenda:close") closePanel();
    if (type === "wenda:ready") {
      ready = true;
      const inside = root.activeElement === close || root.activeElement === frame;
      if (isOpen() && inside) focusChat();
    }
  });

  root.append(style, panel, button);
  const mount = () => {
    document.body.appendChild(host);
    if (options.open) openPanel(false);  // opened by the page, not the reader: focus stays where it is
  };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.WendaWidget = { open: () => openPanel(), close: () => closePanel(), toggle };
})();
