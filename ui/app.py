"""One FastAPI app: the REST API, the Gradio chat mounted at /, and static widget files."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no request may leave the machine

from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ui.chat import SAMPLE_EXAMPLES, build_chat
from ui.render import CSS
from ui.service import BotService, NotReadyError, QuestionError

MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class AppSettings:
    """What the served app needs to know."""

    index_dir: Path | None = None
    top_k: int = 5
    feedback_path: Path | None = None
    examples: tuple[str, ...] = SAMPLE_EXAMPLES
    concurrency_limit: int = 4
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)


class AskRequest(BaseModel):
    """Body of POST /api/ask."""

    question: str = Field(..., description="the question, in Chinese or English")
    top_k: int = Field(5, ge=1, le=50, description="how many passages to return")
    history: list[str] = Field(default_factory=list, description="earlier questions of the conversation")


def create_app(settings: AppSettings, service: BotService | None = None) -> FastAPI:
    """Build the app (the bot starts loading in the background unless a service is given)."""
    service = service or BotService(settings.index_dir).start(background=True)
    app = FastAPI(title="文答 Wenda API", description="Chinese news question answering with cited passages.")
    app.state.service = service
    _add_body_limit(app)
    _add_api_routes(app, service)
    chat = build_chat(
        service,
        examples=settings.examples,
        top_k=settings.top_k,
        feedback_path=settings.feedback_path,
        concurrency_limit=settings.concurrency_limit,
    )
    chat.queue(default_concurrency_limit=settings.concurrency_limit)
    return gr.mount_gradio_app(app, chat, path="/", css=CSS, theme=theme(), footer_links=["api"])


def theme() -> gr.themes.Base:
    """Gradio's default look with fonts that exist offline: its bundled Latin font, then the
    reader's own Chinese system fonts (nothing is fetched from a font CDN)."""
    fonts = [gr.themes.LocalFont("Source Sans Pro"), "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
             "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "sans-serif"]
    return gr.themes.Default(font=fonts)


def _add_api_routes(app: FastAPI, service: BotService) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
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
    async def limit_body(request: Request, call_next):  # noqa: ANN202 - starlette middleware
        length = request.headers.get("content-length")
        if request.url.path.startswith("/api/") and length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"error": f"request body larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
        return await call_next(request)
