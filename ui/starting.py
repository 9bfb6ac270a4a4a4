"""Listen at once: a small app answers while the full one (Gradio and all) is being built.

`python -m ui serve` starts uvicorn on a `SwitchingApp` holding `starting_app`: the start
page, `GET /api/status`, and 503 with `Retry-After` for everything else. A thread imports
Gradio and builds the full app meanwhile (several seconds), then `switch` starts the full app's
lifespan on the server's event loop (Gradio's queue starts there) and sends every later request
to it. The full app shows the same start page until the bot is ready.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.progress import RETRY_AFTER, STATUS_PATH, starting_response
from ui.security import OriginPolicy, add_origin_policy

STARTUP_TIMEOUT = 120.0  # seconds for the full app's own start-up (Gradio's queue)


def starting_app(status: Callable[[], dict[str, Any]], policy: OriginPolicy) -> FastAPI:
    """The app served until the full one is built: the start page, `status()` at /api/status, 503 elsewhere."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/")
    def page() -> HTMLResponse:
        return starting_response()

    @app.get(STATUS_PATH)
    def status_route() -> JSONResponse:
        return JSONResponse({**status(), "ready": False}, headers={"Cache-Control": "no-store"})

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
    def starting(path: str) -> JSONResponse:
        return JSONResponse(
            {"error": "文答正在启动，请稍候再试。(Wenda is starting; try again shortly.)"},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER},
        )

    add_origin_policy(app, policy)
    return app


class SwitchingApp:
    """An ASGI app that serves `first` until `switch` hands it the full app.

    It answers uvicorn's lifespan itself; the full app's lifespan is run by `switch` on the
    server's loop, and ended when the server shuts down, after which `on_shutdown` hooks run
    (each once).
    """

    def __init__(self, first: ASGIApp) -> None:
        self._first = first
        self._app: ASGIApp | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state: dict[str, Any] = {}
        self._started = threading.Event()
        self._lifespan: _Lifespan | None = None
        self.on_shutdown: list[Callable[[], object]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._serve_lifespan(scope, receive, send)
            return
        await (self._app or self._first)(scope, receive, send)

    def switch(self, app: ASGIApp, timeout: float = STARTUP_TIMEOUT) -> None:
        """From another thread: start `app` on the server's loop, then send every new request to it."""
        if not self._started.wait(timeout) or self._loop is None:
            raise RuntimeError("the server did not start")
        asyncio.run_coroutine_threadsafe(self._start(app), self._loop).result(timeout)

    async def _start(self, app: ASGIApp) -> None:
        lifespan = _Lifespan(app, self._state)
        await lifespan.startup()
        self._lifespan = lifespan
        self._app = app

    async def _serve_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._state = scope.setdefault("state", {})  # requests get a copy: share it with the full app
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop = asyncio.get_running_loop()
                self._started.set()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._lifespan is not None:
                    await self._lifespan.shutdown()
                await asyncio.to_thread(self.run_shutdown_hooks)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def run_shutdown_hooks(self) -> None:
        """Run (and forget) the `on_shutdown` hooks."""
        while self.on_shutdown:
            self.on_shutdown.pop(0)()


class _Lifespan:
    """Drives an ASGI app's lifespan protocol (startup, then shutdown) from the outside."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.failure: str | None = None
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self.task = asyncio.create_task(self._run(scope))
        await self.inbox.put({"type": "lifespan.startup"})
        await self.started.wait()
        if self.failure is not None:
            raise RuntimeError(f"the app failed to start: {self.failure}")

    async def shutdown(self, timeout: float = 10.0) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self.stopped.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def _run(self, scope: Scope) -> None:
        try:
            await self.app(scope, self.inbox.get, self._send)
        except Exception as exc:  # noqa: BLE001 - an app without lifespan support, or a crash in its start-up
            self.failure = self.failure or repr(exc)
        finally:
            self.started.set()
            self.stopped.set()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.started.set()
        elif kind == "lifespan.startup.failed":
            self.failure = message.get("message") or "startup failed"
            self.started.set()
        elif kind.startswith("lifespan.shutdown"):
            self.stopped.set()


__all__ = ["SwitchingApp", "starting_app"]
