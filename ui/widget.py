"""Embedding the chat in other pages: the snippets, the /embed page, widget.js and an offline gradio.js."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from string import Template

import gradio
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_URL = "/wenda-static"
GRADIO_JS = Path(gradio.__file__).resolve().parent / "templates" / "frontend" / "gradio.js"
WIDGET_DEFAULTS = {
    "title": "新闻问答",
    "color": "#1a56b0",
    "position": "right",
    "lang": "zh",
    "theme": "auto",
}


def base_url(url: str) -> str:
    """The app's address without a trailing slash: http://127.0.0.1:7860."""
    return url.rstrip("/")


def widget_snippet(app: str, **options: str) -> str:
    """The one-line <script> that adds the floating chat button; options become data-* attributes."""
    attrs = "".join(
        f' data-{k.replace("_", "-")}="{html.escape(v, quote=True)}"'
        for k, v in {**WIDGET_DEFAULTS, **options}.items()
    )
    return f'<script src="{html.escape(base_url(app), quote=True)}/widget.js"{attrs} defer></script>'


def iframe_snippet(app: str, lang: str = "zh", theme: str = "auto") -> str:
    """An <iframe> showing the whole chat (?theme= only when not auto)."""
    query = f"?lang={lang}" + (f"&theme={theme}" if theme != "auto" else "")
    src = html.escape(f"{base_url(app)}/{query}", quote=True)
    title = "News Q&amp;A" if lang == "en" else "新闻问答"
    return (
        f'<iframe src="{src}" title="{title}" allow="clipboard-write" loading="lazy"\n'
        '        style="width: 100%; height: 720px; border: 1px solid #ddd; border-radius: 8px;"></iframe>'
    )


def component_snippet(app: str, lang: str = "zh", theme: str = "auto") -> str:
    """Gradio's <gradio-app> web component, with gradio.js served by the app itself (no CDN)."""
    root = html.escape(base_url(app), quote=True)
    query = html.escape(f"?lang={lang}" + (f"&theme={theme}" if theme != "auto" else ""), quote=True)
    return (
        f'<script type="module" src="{root}/gradio.js"></script>\n'
        f'<gradio-app src="{root}/{query}" info="false"></gradio-app>'
    )


def snippets(app: str) -> dict[str, str]:
    """The three ways to embed the chat served at `app`."""
    return {"widget": widget_snippet(app), "iframe": iframe_snippet(app), "component": component_snippet(app)}


def embed_page(app: str) -> str:
    """The /embed page: each snippet for this app's address, and the widget itself to try."""
    template = Template((STATIC_DIR / "embed.html").read_text(encoding="utf-8"))
    code = {name: html.escape(snippet) for name, snippet in snippets(app).items()}
    return template.substitute(
        base=html.escape(base_url(app), quote=True), live_widget=widget_snippet(app), **code
    )


def add_embed_routes(
    app: FastAPI, boot_js: str = "", address: Callable[[Request], str] | None = None
) -> None:
    """Serve /embed, /widget.js, /gradio.js and the static files (before Gradio is mounted at /).

    `boot_js` runs at the top of /gradio.js, before Gradio starts (the page's language and theme).
    `address(request)` gives the app's address for the snippets (ui.security.public_base_url:
    the configured public URL, never a Host header copied as sent); default: the request's.
    """
    address = address or (lambda request: str(request.base_url))
    if not GRADIO_JS.is_file():
        raise RuntimeError(
            f"gradio.js not found at {GRADIO_JS}: reinstall gradio (pip install 'gradio>=6,<7')"
        )
    gradio_js = boot_js.encode("utf-8") + b"\n" + GRADIO_JS.read_bytes()

    @app.get("/embed", include_in_schema=False)
    def embed(request: Request) -> HTMLResponse:
        # the page depends on the address: no shared cache may keep it
        return HTMLResponse(embed_page(address(request)), headers={"Cache-Control": "no-store"})

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "widget.js", media_type="text/javascript", headers={"Cache-Control": "max-age=300"}
        )

    @app.get("/gradio.js", include_in_schema=False)
    def gradio_entry() -> Response:
        # imports ./assets/index-….js relative to itself: the Gradio build the app already serves
        return Response(gradio_js, media_type="text/javascript", headers={"Cache-Control": "max-age=300"})

    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="wenda-static")


__all__ = [
    "add_embed_routes",
    "component_snippet",
    "embed_page",
    "iframe_snippet",
    "snippets",
    "widget_snippet",
]
