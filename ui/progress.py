"""What the server is doing while it starts: the steps, their counts, and the page that shows them.

`StartProgress` is filled by the service as it prepares the model, builds the sample index
(through index.build's `on_progress`) and loads the index. Until the bot is ready, `/` shows
`static/starting.html`, which polls `GET /api/status` and turns into the chat by itself when
the status says ready (it reloads its own address once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from index.progress import STAGES, Progress

PAGE = Path(__file__).resolve().parent / "static" / "starting.html"
STATUS_PATH = "/api/status"
RETRY_AFTER = "3"  # seconds, for 503 answers while starting

# name: (Chinese label, English label, unit of its counts, weight in the overall bar)
STEPS: dict[str, tuple[str, str, str, int]] = {
    "web": ("启动网页服务", "Starting the web app", "", 0),
    "model": ("准备嵌入模型", "Preparing the embedding model", "", 3),
    "read": ("读取文章文件", "Reading the article files", "files", 1),
    "chunk": ("切分文章", "Indexing the articles", "articles", 1),
    "embed": ("计算段落向量", "Embedding the passages", "chunks", 6),
    "write": ("写入索引", "Writing the index", "", 1),
    "load": ("加载索引", "Loading the index", "", 2),
}
PARALLEL = {"web"}  # steps that run beside the others (gradio is imported while the model loads)
State = Literal["pending", "active", "done"]


@dataclass
class Step:
    """One step of the start: its state and, when it counts something, done of total."""

    name: str
    state: State = "pending"
    done: int = 0
    total: int = 0

    def fraction(self) -> float:
        if self.state == "done":
            return 1.0
        return self.done / self.total if self.state == "active" and self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        zh, en, unit, _ = STEPS.get(self.name, (self.name, self.name, "", 1))
        return {
            "name": self.name,
            "label": zh,
            "label_en": en,
            "unit": unit,
            "state": self.state,
            "done": self.done,
            "total": self.total,
        }


class StartProgress:
    """Thread-safe record of the start's steps, read by `GET /api/status`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: dict[str, Step] = {}
        self._started = time.monotonic()
        self.error: str | None = None

    def plan(self, names: Iterable[str]) -> None:
        """The steps to expect, in order (steps already begun keep their state)."""
        with self._lock:
            for name in names:
                self._steps.setdefault(name, Step(name))

    def begin(self, name: str, total: int = 0) -> None:
        """`name` starts; earlier sequential steps that were never reported count as done."""
        self.update(name, 0, total)

    def update(self, name: str, done: int, total: int) -> None:
        """`done` of `total` units of step `name` are finished."""
        with self._lock:
            step = self._steps.setdefault(name, Step(name))
            if name not in PARALLEL:
                self._close_before(name)
            step.state, step.done, step.total = "active", done, total

    def finish(self, name: str) -> None:
        """Step `name` is complete."""
        with self._lock:
            step = self._steps.setdefault(name, Step(name))
            step.state, step.done = "done", step.total

    def finish_all(self) -> None:
        """Every step is complete (the bot is ready)."""
        with self._lock:
            for step in self._steps.values():
                step.state, step.done = "done", step.total

    def fail(self, message: str) -> None:
        """The start failed with `message` (shown on the page instead of the steps' progress)."""
        with self._lock:
            self.error = message

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Run the block as step `name`."""
        self.begin(name)
        yield
        self.finish(name)

    def index_progress(self, progress: Progress) -> None:
        """An `on_progress` callback for index.build: its stages are steps of the start."""
        self.update(progress.stage, progress.done, progress.total)
        if progress.done >= progress.total and progress.stage == STAGES[-1]:
            self.finish(progress.stage)

    def snapshot(self) -> dict[str, Any]:
        """The steps, the overall fraction done (0-1), the seconds since the start and any error."""
        with self._lock:
            steps = list(self._steps.values())
            weights = {s.name: STEPS.get(s.name, ("", "", "", 1))[3] for s in steps}
            total = sum(weights.values()) or 1
            fraction = sum(weights[s.name] * s.fraction() for s in steps) / total
            active = [s.name for s in steps if s.state == "active" and s.name not in PARALLEL]
            return {
                "steps": [s.to_dict() for s in steps],
                "step": active[-1] if active else None,
                "fraction": round(fraction, 3),
                "elapsed": round(time.monotonic() - self._started, 1),
                "error": self.error,
            }

    def _close_before(self, name: str) -> None:
        names = [n for n in self._steps if n not in PARALLEL]
        for earlier in names[: names.index(name)] if name in names else []:
            step = self._steps[earlier]
            step.state, step.done = "done", step.total


class StatusSource(Protocol):
    """What the start page needs of the service (ui.service.BotService)."""

    @property
    def ready(self) -> bool: ...

    def status(self) -> dict[str, Any]: ...


@cache
def starting_page() -> str:
    """The start page (plain HTML with its own CSS and script; nothing loaded from elsewhere)."""
    return PAGE.read_text(encoding="utf-8")


def starting_response() -> HTMLResponse:
    """The start page, never cached (the same address becomes the chat)."""
    return HTMLResponse(starting_page(), headers={"Cache-Control": "no-store"})


def add_progress_routes(app: FastAPI, service: StatusSource) -> None:
    """`GET /api/status`, and the start page at `/` until the bot is ready.

    Add it before the origin policy, so that the page gets the same frame-ancestors header.
    """

    @app.get(STATUS_PATH, summary="What the server is doing while it starts (and whether it is ready)")
    def status() -> JSONResponse:
        return JSONResponse(service.status(), headers={"Cache-Control": "no-store"})

    @app.middleware("http")
    async def start_page(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.method == "GET" and request.url.path == "/" and not service.ready:
            return starting_response()
        return await call_next(request)


__all__ = [
    "STATUS_PATH",
    "STEPS",
    "StartProgress",
    "StatusSource",
    "add_progress_routes",
    "starting_page",
    "starting_response",
]
