/* 文答 Wenda: the page's language and theme, set before Gradio starts.
 *
 * Runs first on the chat page (put at the top of its <head> by the app) and at the top of
 * /gradio.js (the web component's loader). It reads ?lang=zh|en and ?theme=light|dark|auto from
 * the page address, or from the src of <gradio-app> on another site, and:
 * - gives Gradio the page's language instead of the browser's, so Gradio's own strings follow
 *   ?lang= (Gradio reads navigator.language once, while it starts; chat.js puts it back after);
 * - asks Gradio for the theme (its ?__theme= on the page, its theme_mode attribute on a component).
 * The server's defaults (its theme setting) are filled in by the app.
 */
(() => {
  "use strict";
  const defaults = __WENDA_DEFAULTS__;
  const element = document.querySelector("gradio-app[src]");
  const address = new URL(element ? element.getAttribute("src") : window.location.href, window.location.href);
  const params = address.searchParams;
  const lang = (params.get("lang") || defaults.lang || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  const wanted = { light: "light", dark: "dark" }[(params.get("theme") || defaults.theme || "").toLowerCase()];
  const locale = lang === "en" ? "en" : "zh-CN";
  const nav = window.navigator;
  const own = ["language", "languages"].filter((name) => Object.prototype.hasOwnProperty.call(nav, name));
  if (!own.length) {
    try {
      Object.defineProperty(nav, "language", { configurable: true, get: () => locale });
      Object.defineProperty(nav, "languages", { configurable: true, get: () => [locale] });
      window.__wendaLocale = locale;  // chat.js removes the override once Gradio has read it
    } catch (error) { /* a browser that refuses: Gradio's strings follow the browser then */ }
  }
  if (element) {
    if (wanted && !element.hasAttribute("theme_mode")) element.setAttribute("theme_mode", wanted);
  } else if (wanted && !params.get("__theme")) {
    const url = new URL(window.location.href);
    url.searchParams.set("__theme", wanted);
    window.history.replaceState(window.history.state, "", url.toString());
  }
})();
