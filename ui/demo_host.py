"""A demo host: a mock news site on another origin that embeds the chat the three documented ways.

Each page takes ?lang=zh|en and ?theme=light|dark|auto and passes them to its snippet.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from fastapi import FastAPI, Query
from fastapi.responses import FileResponse, HTMLResponse

from ui.widget import STATIC_DIR, base_url, component_snippet, iframe_snippet, widget_snippet

DEMO_WIDGET = {
    "title": "人民日报 · 新闻问答",
    "color": "#c8161d",
    "text_color": "#ffffff",
    "position": "right",
    "lang": "zh",
}

_ARTICLE = """
<article>
<h1>第二届中国—中亚峰会在阿斯塔纳举行</h1>
<p class="byline">示例页面 · 演示用的新闻网站（另一个源），不是真实报道</p>
<p>这是一个假想的新闻网站，用来演示如何在别人的网页上嵌入“文答”问答。页面右下角的红色按钮由一行
<code>&lt;script&gt;</code> 加入；点开后，问答在一个小窗（iframe）里运行，内容来自问答服务自己的源。</p>
<p>试着问：<b>2024年中国与中亚五国的贸易额达到多少？</b> 回答会附上出处段落，答案句以黄色标出。</p>
<p class="note">嵌入代码 / the snippet used on this page:</p>
<pre><code>$snippet</code></pre>
</article>
"""


def check_app_url(url: str) -> str:
    """The app's address as http(s)://host[:port][/path], without a trailing slash; ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"--app {url!r} is not the app's address: use e.g. http://127.0.0.1:7860")
    return base_url(url.strip())


def _page(title: str, body: str, app: str, extra: str = "") -> str:
    nav = (
        '<nav><a href="/">浮动按钮 widget</a><a href="/iframe">iframe</a>'
        '<a href="/component">&lt;gradio-app&gt;</a></nav>'
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/static/page.css"></head><body>'
        f'<header class="masthead"><b>示例新闻网</b>{nav}</header><main>{body}'
        f'<p class="note">问答服务 / chat served by <code>{html.escape(app)}</code>; '
        "this page is on another origin.</p>"
        f"</main>{extra}</body></html>"
    )


def widget_page(app: str, lang: str = "zh", theme: str = "auto") -> str:
    """A mock article with the floating chat button."""
    snippet = widget_snippet(app, **{**DEMO_WIDGET, "lang": lang, "theme": theme})
    body = _ARTICLE.replace("$snippet", html.escape(snippet))
    return _page("示例新闻网 · widget", body, app, extra=snippet)


def iframe_page(app: str, lang: str = "zh", theme: str = "auto") -> str:
    """The chat in an <iframe>."""
    snippet = iframe_snippet(app, lang=lang, theme=theme)
    body = f"<h1>iframe</h1><pre><code>{html.escape(snippet)}</code></pre>{snippet}"
    return _page("示例新闻网 · iframe", body, app)


def component_page(app: str, lang: str = "zh", theme: str = "auto") -> str:
    """The chat as Gradio's <gradio-app> web component, gradio.js loaded from the app."""
    snippet = component_snippet(app, lang=lang, theme=theme)
    body = f"<h1>&lt;gradio-app&gt;</h1><pre><code>{html.escape(snippet)}</code></pre>{snippet}"
    return _page("示例新闻网 · gradio-app", body, app)


def create_demo_host(app_url: str) -> FastAPI:
    """Build the demo host site for the chat served at `app_url`."""
    app = check_app_url(app_url)
    site = FastAPI(title="Wenda demo host", docs_url=None, redoc_url=None, openapi_url=None)
    pages = {"/": widget_page, "/iframe": iframe_page, "/component": component_page}
    for path, page in pages.items():
        site.add_api_route(path, _serve(page, app), methods=["GET"], response_class=HTMLResponse)
    site.add_api_route(
        "/static/page.css",
        lambda: FileResponse(STATIC_DIR / "page.css", media_type="text/css"),
        methods=["GET"],
    )
    return site


def _serve(page, app: str):
    """A page with ?lang=zh|en and ?theme=light|dark|auto passed on to the snippet it shows."""

    def endpoint(
        lang: str = Query("zh", pattern="^(zh|en)$"),
        theme: str = Query("auto", pattern="^(auto|light|dark)$"),
    ) -> HTMLResponse:
        return HTMLResponse(page(app, lang=lang, theme=theme))

    return endpoint


__all__ = ["check_app_url", "component_page", "create_demo_host", "iframe_page", "widget_page"]
