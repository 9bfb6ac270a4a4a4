"""One FastAPI app: the REST API, the Gradio chat mounted at /, the embedding files and offline API docs."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no request may leave the machine

import gradio as gr
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa import QuestionError
from qa.settings import MAX_TOP_K
from ui.chat import build_chat
from ui.render import CSS, boot_script, chat_head
from ui.security import OriginGuard, OriginPolicy
from ui.service import BotService, NotReadyError
from ui.settings import Settings
from ui.widget import add_embed_routes

MAX_BODY_BYTES = 64 * 1024
log = logging.getLogger("wenda.ui")


class AskRequest(BaseModel):
    """Body of POST /api/ask."""

    question: str = Field(..., description="the question, in Chinese or English")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="how many passages to return")
    history: list[str] = Field(default_factory=list, description="earlier questions of the conversation")


def create_app(settings: Settings, service: BotService | None = None) -> FastAPI:
    """Build the app (the bot starts loading in the background unless a service is given)."""
    service = service or BotService(settings.index, max_concurrent=settings.concurrency).start(
        background=True
    )
    # FastAPIOffline serves Swagger UI's files itself (/docs-assets) instead of from a CDN
    app = FastAPIOffline(
        title="文答 Wenda API",
        description="Chinese news question answering with cited passages.",
        redoc_url=None,
        static_url="/docs-assets",
    )
    app.state.service = service
    app.state.settings = settings
    _add_security(app, OriginPolicy(settings.allowed_origins))
    _add_body_limit(app)
    _add_api_routes(app, service)
    boot = boot_script(settings.theme)
    add_embed_routes(app, boot_js=boot)
    app.add_middleware(PageBoot, script=boot)
    chat = build_chat(
        service,
        examples=settings.chat_examples,
        top_k=settings.top_k,
        feedback_path=settings.feedback_path,
        feedback_max_bytes=settings.feedback_max_bytes,
        concurrency_limit=settings.concurrency,
        placeholder=settings.chat_placeholders,
    )
    chat.queue(default_concurrency_limit=settings.concurrency)
    return gr.mount_gradio_app(
        app,
        chat,
        path="/",
        css=CSS,
        head=chat_head(service.max_question_chars),
        theme=theme(),
        footer_links=[],  # readers get no "use via API" footer; the API is documented at /docs and /embed
        run_history=False,
        pwa=False,
    )


class PageBoot:
    """ASGI middleware: put the boot script (language and theme, ui/static/boot.js) at the top of the
    chat page's <head>, so it runs before Gradio's own scripts."""

    def __init__(self, app: ASGIApp, script: str, paths: tuple[str, ...] = ("/",)) -> None:
        self.app = app
        self.tag = f"<script>{script}</script>".encode()
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        state: dict = {"start": None, "html": False}
        body = bytearray()

        async def buffered(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["start"] = message
                state["html"] = MutableHeaders(scope=message).get("content-type", "").startswith("text/html")
                if not state["html"]:
                    await send(message)
                return
            if not state["html"]:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            page = bytes(body).replace(b"<head>", b"<head>" + self.tag, 1)
            MutableHeaders(scope=state["start"])["content-length"] = str(len(page))
            await send(state["start"])
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, buffered)


def theme() -> gr.themes.Base:
    """Gradio's default look with fonts that exist offline: its bundled Latin font, then the
    reader's own Chinese system fonts (nothing is fetched from a font CDN); blue accents that
    read in light and dark (the page's ?color= can change them)."""
    fonts: list[gr.themes.Font | str] = [
        gr.themes.LocalFont("Source Sans Pro"),
        "PingFang SC",
        "Hiragino Sans GB",
        "Microsoft YaHei",
        "Noto Sans CJK SC",
        "Source Han Sans SC",
        "WenQuanYi Micro Hei",
        "sans-serif",
    ]
    return gr.themes.Default(primary_hue="blue", font=fonts)


def _add_security(app: FastAPI, policy: OriginPolicy) -> None:
    """CORS for the allowed origins (Gradio then adds none of its own), refusal of all other origins,
    and frame-ancestors on every page; the guard is added last, so it runs first."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=policy.cors_origins(),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
        allow_credentials=False,
        max_age=600,
    )
    app.add_middleware(OriginGuard, policy=policy)
    app.state.origin_policy = policy
    log.info(policy.describe())


def _add_api_routes(app: FastAPI, service: BotService) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)

    @app.post("/api/ask", summary="Answer a question with cited passages")
    def ask(body: AskRequest) -> JSONResponse:
        try:
            return JSONResponse(service.ask(body.question, top_k=body.top_k, history=body.history))
        except QuestionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        except NotReadyError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.get("/api/section", summary="The section of an article that holds a passage (read-only)")
    def section(
        article_id: str = Query(..., max_length=500, description="the citation's article_id"),
        start: int = Query(..., ge=0, description="the citation's start"),
        end: int = Query(..., ge=1, description="the citation's end"),
    ) -> JSONResponse:
        try:
            return JSONResponse(service.section(article_id, start, end))
        except NotReadyError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "5"})
        except KeyError:
            return JSONResponse(
                {"error": f"no passage {start}:{end} in article {article_id!r}"}, status_code=404
            )

    @app.get("/api/health", summary="Whether the index is loaded, with the model and counts")
    def health() -> JSONResponse:
        data = service.health()
        return JSONResponse(data, status_code=200 if data["index_loaded"] else 503)


def _add_body_limit(app: FastAPI) -> None:
    """Refuse oversized request bodies with 413 before they are read."""

    @app.middleware("http")
    async def limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if (
            request.url.path.startswith("/api/")
            and length
            and length.isdigit()
            and int(length) > MAX_BODY_BYTES
        ):
            return JSONResponse(
                {"error": f"request body larger than {MAX_BODY_BYTES} bytes"}, status_code=413
            )
        return await call_next(request)


__all__ = ["MAX_BODY_BYTES", "AskRequest", "PageBoot", "Settings", "create_app", "theme"]
