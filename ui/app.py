"""One FastAPI app: the REST API, the Gradio chat mounted at /, the embedding files and offline API docs."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no request may leave the machine

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from qa import QuestionError
from qa.settings import MAX_TOP_K
from ui.admin import add_admin_routes
from ui.chat import build_chat
from ui.progress import add_progress_routes
from ui.render import CHAT_JS, CSS
from ui.security import OriginPolicy, add_origin_policy
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
    add_progress_routes(app, service)  # the start page at / until the bot is ready; /api/status
    add_admin_routes(app, service, settings)  # /admin, only with an admin token file
    _add_security(app, OriginPolicy(settings.allowed_origins))
    _add_body_limit(app)
    _add_api_routes(app, service)
    add_embed_routes(app)
    chat = build_chat(
        service,
        examples=settings.chat_examples,
        top_k=settings.top_k,
        feedback_path=settings.feedback_log,
        concurrency_limit=settings.concurrency,
    )
    chat.queue(default_concurrency_limit=settings.concurrency)
    return gr.mount_gradio_app(
        app,
        chat,
        path="/",
        css=CSS,
        head=CHAT_JS,
        theme=theme(),
        footer_links=["api"],
        run_history=False,
        pwa=False,
    )


def theme() -> gr.themes.Base:
    """Gradio's default look with fonts that exist offline: its bundled Latin font, then the
    reader's own Chinese system fonts (nothing is fetched from a font CDN)."""
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
    return gr.themes.Default(font=fonts)


def _add_security(app: FastAPI, policy: OriginPolicy) -> None:
    """The origin policy (ui.security.add_origin_policy), remembered and described in the log."""
    add_origin_policy(app, policy)
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


__all__ = ["MAX_BODY_BYTES", "AskRequest", "Settings", "create_app", "theme"]
