"""One FastAPI app: the REST API, the Gradio chat mounted at /, the embedding files and offline API docs."""

from __future__ import annotations

import logging
import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no request may leave the machine

import gradio as gr
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa import QuestionError
from qa.settings import MAX_TOP_K
from ui.admin import UPLOAD_LIMIT, add_admin_routes
from ui.chat import build_chat
from ui.guard import BodyLimits, RequestGuard
from ui.progress import add_progress_routes
from ui.render import CSS, boot_script, chat_head
from ui.security import OriginPolicy, add_origin_policy, public_base_url
from ui.service import BotService, NotReadyError, ServiceError, describe_value
from ui.settings import Settings
from ui.widget import add_embed_routes

LIMITS = BodyLimits(upload=UPLOAD_LIMIT + 64 * 1024)  # the admin's own 413 names the limit
MAX_BODY_BYTES = LIMITS.api
log = logging.getLogger("wenda.ui")

# what each field of AskRequest must be, for validation messages
FIELD_RULES = {
    "question": "a non-empty string",
    "top_k": f"a whole number from 1 to {MAX_TOP_K} (a JSON integer)",
    "history": "a list of earlier questions, each a string",
}
BODY_RULE = 'the body must be a JSON object such as {"question": "峰会在哪里举行？", "top_k": 5}'


class AskRequest(BaseModel):
    """Body of POST /api/ask."""

    question: StrictStr = Field(..., description="the question, in Chinese or English")
    top_k: StrictInt = Field(5, ge=1, le=MAX_TOP_K, description="how many passages to return")
    history: list[StrictStr] = Field(
        default_factory=list, description="earlier questions of the conversation"
    )


class ErrorBody(BaseModel):
    """Every error of the REST API: one line naming the problem and what to do."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"error": "top_k: must be a whole number from 1 to 50"}}
    )
    error: str


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "the body is not valid JSON",
        404: "no such route",
        405: "wrong method",
        413: f"the body is larger than {LIMITS.api // 1024} KiB",
        422: "a field has the wrong type or value (empty or over-long question, top_k outside 1-50, …)",
        500: "an unexpected failure, written to the server log",
        503: "the index is loading, or failed to load (see /api/health)",
    }
    return {s: {"model": ErrorBody, "description": descriptions[s]} for s in statuses}


def create_app(settings: Settings, service: BotService | None = None) -> FastAPI:
    """Build the app (the bot starts loading in the background unless a service is given)."""
    service = service or BotService(settings.index, max_concurrent=settings.concurrency).start(
        background=True
    )
    # FastAPIOffline serves Swagger UI's files itself (/docs-assets) instead of from a CDN
    app = FastAPIOffline(
        title="文答 Wenda API",
        description="Chinese news question answering with cited passages. "
        'Every error is JSON {"error": "…"}.',
        redoc_url=None,
        static_url="/docs-assets",
    )
    app.state.service = service
    app.state.settings = settings
    add_progress_routes(app, service)  # the start page at / until the bot is ready; /api/status
    add_admin_routes(app, service, settings)  # /admin, only with an admin token file
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
    app.add_middleware(  # runs after the origin check and CORS, so its refusals carry CORS headers
        RequestGuard,
        limits=LIMITS,
        api_names=lambda: _public_api_names(chat),
        event_ids=lambda: set(chat.fns),
        direct_ids=lambda: {fn_id for fn_id, fn in chat.fns.items() if not fn.queue},
    )
    _add_security(app, OriginPolicy(settings.allowed_origins))
    _add_error_handlers(app)
    _add_api_routes(app, service)
    boot = boot_script(settings.theme)
    add_embed_routes(
        app,
        boot_js=boot,
        address=lambda request: public_base_url(
            settings, request.headers.get("host"), request.scope.get("server")
        ),
    )
    app.add_middleware(PageBoot, script=boot)
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
        show_error=False,  # unexpected errors show as "Error", never as a raw Python message
        max_file_size=0,
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


def _public_api_names(chat: gr.Blocks) -> set[str]:
    return {fn.api_name for fn in chat.fns.values() if fn.api_visibility == "public" and fn.api_name}


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
    """The origin policy (ui.security.add_origin_policy), remembered and described in the log."""
    add_origin_policy(app, policy)
    app.state.origin_policy = policy
    log.info(policy.describe())


def _add_api_routes(app: FastAPI, service: BotService) -> None:
    @app.post(
        "/api/ask",
        summary="Answer a question with cited passages",
        responses=_errors(400, 413, 422, 500, 503),
    )
    async def ask(body: AskRequest) -> JSONResponse:
        try:
            answer = await service.ask_async(body.question, top_k=body.top_k, history=body.history)
        except QuestionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        except NotReadyError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503, headers={"Retry-After": "5"})
        except ServiceError as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)
        return JSONResponse(answer)

    @app.get(
        "/api/section",
        summary="The section of an article that holds a passage (read-only)",
        responses=_errors(404, 422, 503),
    )
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

    # async routes that touch no thread: they answer at once however busy the answering threads are
    @app.get(
        "/api/health",
        summary="Readiness: whether the index is loaded, with the model, counts and load",
        responses=_errors(503),
    )
    async def health() -> JSONResponse:
        data = service.health()
        return JSONResponse(data, status_code=200 if data["index_loaded"] else 503)

    @app.get("/api/health/live", summary="Liveness: the server is up (answers at once, under any load)")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]

    @app.api_route("/api/{rest:path}", methods=methods, include_in_schema=False)
    async def unknown(request: Request, rest: str) -> JSONResponse:
        path = request.url.path
        allowed = sorted(
            {m for r in app.routes if isinstance(r, APIRoute) and r.path == path for m in r.methods or ()}
        )
        if allowed:
            return JSONResponse(
                {"error": f"{request.method} is not allowed on {path}: use {' or '.join(allowed)}"},
                status_code=405,
                headers={"Allow": ", ".join(allowed)},
            )
        return JSONResponse(
            {
                "error": f"no API route {path[:80]!r}: the routes are POST /api/ask, GET /api/health, GET /api/section"
            },
            status_code=404,
        )


def _add_error_handlers(app: FastAPI) -> None:
    """`{"error": …}` bodies for every status of the REST API, with messages in plain words."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            return JSONResponse(
                {"error": f"the request body is not valid JSON; {BODY_RULE}"}, status_code=400
            )
        problems = "; ".join(dict.fromkeys(_problem(e) for e in errors))
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "bad request"
        if exc.status_code == 400 and "parsing the body" in message:
            message = f"the request body could not be read as JSON (UTF-8); {BODY_RULE}"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


def _problem(error: dict[str, Any]) -> str:
    """One validation error in plain words: the field, what it must be, and what it was."""
    if error["loc"] and error["loc"][0] in ("query", "path"):
        name = ".".join(str(p) for p in error["loc"][1:])
        return f"{name} ({error['loc'][0]} parameter): {error['msg'][0].lower()}{error['msg'][1:]}"
    loc = [str(p) for p in error["loc"][1:]]
    if not loc or loc[0] not in FIELD_RULES:
        return BODY_RULE
    field = loc[0] + "".join(f"[{p}]" for p in loc[1:])
    if error["type"] == "missing":
        return f"{field} is missing: it must be {FIELD_RULES[loc[0]]}"
    rule = "a string" if len(loc) > 1 else FIELD_RULES[loc[0]]
    return f"{field}: must be {rule}, got {describe_value(error.get('input'))}"


__all__ = [
    "LIMITS",
    "MAX_BODY_BYTES",
    "AskRequest",
    "ErrorBody",
    "PageBoot",
    "Settings",
    "create_app",
    "theme",
]
