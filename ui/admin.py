"""The admin page at /admin: the articles of the served index, uploads, removals, progress, feedback.

Off unless an admin token file is configured (`--admin-token-file FILE` or
`WENDA_ADMIN_TOKEN_FILE`): without one, /admin and its API do not exist (404). The token is
never a command-line value and never in a page: the operator types it into the page, whose
script keeps it in sessionStorage and sends it as `Authorization: Bearer …` (a header, not a
cookie, so another site cannot make the browser send it: no CSRF). Tokens are compared in
constant time; a client with `FAILURES_PER_MINUTE` wrong tokens in a minute gets 429.

Writes go through the same code as `python -m index add|remove` (index.update.update_index,
under the index's writer lock, one at a time), each producing a new generation that the
server switches to at once (BotService.refresh). Every action is logged with its time and result.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import tempfile
import threading
import time
import unicodedata
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from index.errors import CorpusError, IndexLockedError, UnknownArticleError, WendaError
from index.ingest import SUFFIXES
from index.ingest.html import decode_html
from index.progress import Progress
from index.store.added import read_added
from qa import Bot
from ui.chat import FeedbackLog
from ui.service import BotService, NotReadyError
from ui.settings import Settings, read_admin_token

log = logging.getLogger("wenda.admin")

STATIC = Path(__file__).resolve().parent / "static"
UPLOAD_LIMIT = 5 * 1024 * 1024  # bytes per uploaded file
FAILURES_PER_MINUTE = 10  # wrong tokens per client per minute before 429
PAGE_LIMIT = 200  # most articles per listing page
FEEDBACK_TAIL = 2 * 1024 * 1024  # bytes read from the end of the feedback log
_UNSAFE = re.compile(r"[^\w.\- ()（）]+")


class AdminError(WendaError):
    """An admin request that cannot be done: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def safe_name(name: str) -> str:
    """An uploaded file's name reduced to a plain file name: no folders, no `..`, no control or
    shell characters (letters of any script, digits, `.`, `-`, `_`, spaces and brackets stay)."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if dot and len(base) > 120:
        base = f"{stem[: 119 - len(suffix)]}.{suffix}"
    if not base or base.startswith(".") or set(base) <= {".", "_", " "}:
        raise AdminError(422, f"file name {name!r} has no usable name: rename the file and upload it again")
    return base


def check_upload(name: str, data: bytes) -> str:
    """The sanitised file name of an upload whose extension and content are acceptable."""
    safe = safe_name(name)
    suffix = Path(safe).suffix.lower()
    if suffix not in SUFFIXES:
        raise AdminError(
            415,
            f"{safe!r}: only {', '.join(SUFFIXES)} files can be added (the same formats as `index build`)",
        )
    if not data.strip():
        raise AdminError(422, f"{safe!r} is empty")
    if _looks_binary(data):
        raise AdminError(415, f"{safe!r} is not a text file (its content is binary): upload articles as text")
    try:
        decode_html(data) if suffix in (".html", ".htm") else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdminError(
            415, f"{safe!r} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8"
        ) from exc
    return safe


def _looks_binary(data: bytes) -> bool:
    """NUL bytes, or more than 1 % control characters other than tabs, newlines and form feeds."""
    if b"\0" in data:
        return True
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(sample) / 100


class Throttle:
    """Counts wrong tokens per client; a client with `limit` of them within `window` seconds waits."""

    def __init__(self, limit: int = FAILURES_PER_MINUTE, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> int:
        """Seconds `client` must wait before trying again (0: it may try now)."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent(client, now)
            return int(recent[0] + self.window - now) + 1 if len(recent) >= self.limit else 0

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.monotonic()).append(time.monotonic())

    def _recent(self, client: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(self._failures) > 10_000:  # forget quiet clients rather than grow without bound
            for key in [k for k, v in self._failures.items() if not v and k != client]:
                del self._failures[key]
        return recent


@dataclass
class Job:
    """An admin change being written (or the last one): what, its progress and its result."""

    action: str
    target: str
    started: str
    stage: str = "read"
    done: int = 0
    total: int = 0
    result: str | None = None
    ok: bool | None = None
    finished: str | None = None
    generation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Views:
    """Per-generation lookups: chunk counts and added times per article."""

    generation: str
    chunk_counts: Counter[str]
    added: dict[str, str]


class Admin:
    """The admin API's actions over one service (and its index)."""

    def __init__(self, service: BotService, settings: Settings, token: str) -> None:
        self.service = service
        self.feedback = FeedbackLog(settings.feedback_log)
        self._token = token.encode("utf-8")
        self.throttle = Throttle()
        self.actions: deque[dict[str, Any]] = deque(maxlen=200)
        self.job: Job | None = None
        self.last_job: Job | None = None
        self._writing = threading.Lock()
        self._views: _Views | None = None

    # -- authentication and the action log

    def authorize(self, request: Request) -> None:
        """Let the request through, or raise 401 (wrong or missing token) or 429 (too many wrong ones)."""
        client = _client(request)
        wait = self.throttle.wait_seconds(client)
        if wait:
            raise AdminError(
                429, f"too many wrong admin tokens; try again in {wait} s", {"Retry-After": str(wait)}
            )
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), self._token):
            self.throttle.failed(client)
            self.record(request, "login", request.url.path, "refused: wrong or missing token", ok=False)
            raise AdminError(
                401, "admin token missing or wrong", {"WWW-Authenticate": 'Bearer realm="wenda-admin"'}
            )

    def record(self, request: Request | None, action: str, target: str, result: str, ok: bool = True) -> None:
        """Log an admin action with its time and result (also kept for the page)."""
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "client": _client(request) if request is not None else "",
            "action": action,
            "target": target,
            "ok": ok,
            "result": result,
        }
        self.actions.appendleft(entry)
        (log.info if ok else log.warning)("admin %s %s from %s: %s", action, target, entry["client"], result)

    # -- reading

    def bot(self) -> Bot:
        try:
            return self.service.bot
        except NotReadyError as exc:
            raise AdminError(503, str(exc), {"Retry-After": "5"}) from exc

    def views(self, bot: Bot) -> _Views:
        index = bot.index
        views = self._views
        if views is None or views.generation != index.generation.name:
            counts = index.chunks.article_counts()
            views = _Views(index.generation.name, counts, read_added(index))
            self._views = views
        return views

    def overview(self) -> dict[str, Any]:
        health = self.service.health()
        job = self.job or self.last_job
        return {
            "index": str(self.service.index_dir) if self.service.index_dir else None,
            "health": health,
            "job": job.to_dict() if job else None,
            "busy": self.job is not None,
            "upload_limit": UPLOAD_LIMIT,
            "suffixes": list(SUFFIXES),
            "feedback_log": str(self.feedback.path) if self.feedback.path else None,
            "actions": list(self.actions)[:20],
        }

    def articles(self, query: str = "", offset: int = 0, limit: int = 50) -> dict[str, Any]:
        bot = self.bot()
        views = self.views(bot)
        needle = query.strip().casefold()
        rows = []
        for article in bot.index.articles.values():
            fields = (article.id, article.title, article.source or "", article.date or "", article.url or "")
            if needle and not any(needle in f.casefold() for f in fields):
                continue
            rows.append(
                {
                    "id": article.id,
                    "title": article.title,
                    "source": article.source,
                    "date": article.date,
                    "url": article.url,
                    "chunks": views.chunk_counts.get(article.id, 0),
                    "added": views.added.get(article.id),
                }
            )
        rows.sort(key=lambda r: (r["added"] or "", r["id"]), reverse=True)  # newest first
        limit = max(1, min(limit, PAGE_LIMIT))
        return {
            "generation": views.generation,
            "total": len(bot.index.articles),
            "matched": len(rows),
            "offset": offset,
            "articles": rows[offset : offset + limit],
        }

    def feedback_entries(self, limit: int = 100) -> dict[str, Any]:
        path = self.feedback.path
        if path is None:
            return {"configured": False, "entries": []}
        entries = list(_tail_jsonl(path, FEEDBACK_TAIL))[::-1][: max(1, min(limit, 1000))]
        texts = self._chunk_texts(entries)
        for entry in entries:
            for passage in entry.get("passages") or []:
                if isinstance(passage, dict):
                    passage["text"] = texts.get(str(passage.get("chunk_id")))
        return {"configured": True, "path": str(path), "entries": entries}

    def _chunk_texts(self, entries: list[dict[str, Any]]) -> dict[str, str]:
        """The texts of the chunks the feedback entries cite, by chunk id."""
        try:
            bot = self.service.bot
        except NotReadyError:
            return {}
        ids = {
            str(passage.get("chunk_id"))
            for entry in entries
            for passage in entry.get("passages") or []
            if isinstance(passage, dict)
        }
        return bot.index.chunks.texts(sorted(ids))

    # -- writing

    def upload(self, request: Request, name: str, data: bytes) -> dict[str, Any]:
        """Add (or replace) the articles of one uploaded file, as `python -m index add FILE` does."""
        safe = check_upload(name, data)
        with tempfile.TemporaryDirectory(prefix="wenda-upload-") as folder:
            path = Path(folder) / safe
            if path.parent != Path(folder):  # safe_name leaves no folder part; belt and braces
                raise AdminError(422, f"file name {name!r} is not a plain file name")
            path.write_bytes(data)
            report = self._write(request, "upload", safe, folder, add=[path], root=Path(folder))
        return report

    def remove(self, request: Request, article_id: str) -> dict[str, Any]:
        """Remove one article, as `python -m index remove ID` does."""
        if not article_id.strip():
            raise AdminError(422, "no article id given")
        return self._write(request, "remove", article_id, None, remove=[article_id])

    def _write(
        self, request: Request, action: str, target: str, folder: str | None, **change: Any
    ) -> dict[str, Any]:
        from index.update import update_index

        self.bot()  # refuse while the server is still loading: the index directory is not known yet
        index_dir = self.service.index_dir
        assert index_dir is not None
        with self._job(request, action, target) as job:
            try:
                report = update_index(
                    index_dir,
                    embedder=self.service.bot.embedder,  # the loaded model: nothing loaded twice
                    progress=False,
                    on_progress=lambda p: self._progress(job, p),
                    **change,
                )
            except UnknownArticleError as exc:
                raise AdminError(404, _clean(exc, folder)) from exc
            except IndexLockedError as exc:
                raise AdminError(409, _clean(exc, folder)) from exc
            except (CorpusError, WendaError, ValueError, OSError) as exc:
                raise AdminError(422, _clean(exc, folder)) from exc
            job.generation = self.service.refresh()
            job.result = _clean(report.update_summary(), folder)
            return {
                "ok": True,
                "summary": job.result,
                "added": report.added,
                "replaced": report.replaced,
                "removed": report.removed,
                "unchanged": report.unchanged,
                "skipped": [[Path(p).name, _clean(r, folder)] for p, r in report.skipped],
                "articles": report.articles,
                "chunks": report.chunks,
                "generation": job.generation,
            }

    @contextmanager
    def _job(self, request: Request, action: str, target: str) -> Iterator[Job]:
        if not self._writing.acquire(blocking=False):
            raise AdminError(409, "another admin change is being written; wait for it to finish")
        job = Job(action, target, time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.job = job
        try:
            yield job
            job.ok = True
        except AdminError as exc:
            job.ok, job.result = False, str(exc)
            raise
        except Exception as exc:
            job.ok, job.result = False, f"{type(exc).__name__}: {exc}"
            log.debug("admin %s %s failed", action, target, exc_info=True)
            raise AdminError(500, f"{action} failed: {job.result}") from exc
        finally:
            job.finished = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            self.record(request, action, target, job.result or "", ok=bool(job.ok))
            self.last_job, self.job = job, None
            self._writing.release()

    @staticmethod
    def _progress(job: Job, progress: Progress) -> None:
        job.stage, job.done, job.total = progress.stage, progress.done, progress.total


def add_admin_routes(app: FastAPI, service: BotService, settings: Settings) -> Admin | None:
    """Add /admin and /admin/api/… when an admin token file is configured; return the Admin (or None)."""
    if settings.admin_token_file is None:
        return None
    admin = Admin(service, settings, read_admin_token(settings.admin_token_file))
    app.state.admin = admin

    @app.exception_handler(AdminError)
    async def refused(request: Request, exc: AdminError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers={**exc.headers, **_NO_STORE})

    _add_page_routes(app)

    @app.get("/admin/api/overview", include_in_schema=False)
    def overview(request: Request) -> JSONResponse:
        admin.authorize(request)
        return _json(admin.overview())

    @app.get("/admin/api/articles", include_in_schema=False)
    def articles(
        request: Request, q: str = "", offset: int = Query(0, ge=0), limit: int = Query(50, ge=1)
    ) -> JSONResponse:
        admin.authorize(request)
        return _json(admin.articles(q, offset, limit))

    @app.get("/admin/api/feedback", include_in_schema=False)
    def feedback(request: Request, limit: int = Query(100, ge=1)) -> JSONResponse:
        admin.authorize(request)
        return _json(admin.feedback_entries(limit))

    @app.post("/admin/api/upload", include_in_schema=False)
    async def upload(request: Request, name: str = Query(..., max_length=1000)) -> JSONResponse:
        admin.authorize(request)
        data = await _read_limited(request, UPLOAD_LIMIT)
        return _json(await run_in_threadpool(admin.upload, request, name, data))

    @app.post("/admin/api/remove", include_in_schema=False)
    async def remove(request: Request) -> JSONResponse:
        admin.authorize(request)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AdminError(422, 'send {"id": "ARTICLE_ID"} as JSON') from exc
        article_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(article_id, str):
            raise AdminError(422, 'send {"id": "ARTICLE_ID"} as JSON')
        return _json(await run_in_threadpool(admin.remove, request, article_id))

    log.info("Admin page on at /admin (token from %s)", settings.admin_token_file)
    return admin


_NO_STORE = {"Cache-Control": "no-store"}


def _add_page_routes(app: FastAPI) -> None:
    """The page and its script and style: plain files, no token inside."""
    files = {"/admin": "admin.html", "/admin/admin.js": "admin.js", "/admin/admin.css": "admin.css"}
    for url, name in files.items():
        app.add_api_route(url, _file_route(STATIC / name), methods=["GET"], include_in_schema=False)


def _file_route(path: Path):
    def serve() -> FileResponse:
        return FileResponse(path, headers={**_NO_STORE, "Referrer-Policy": "no-referrer"})

    return serve


def _json(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(data, headers=_NO_STORE)


async def _read_limited(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is larger than `limit` bytes."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise AdminError(413, f"file larger than {limit // (1024 * 1024)} MiB: split it into smaller files")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise AdminError(
                413, f"file larger than {limit // (1024 * 1024)} MiB: split it into smaller files"
            )
    return bytes(body)


def _client(request: Request | None) -> str:
    return request.client.host if request is not None and request.client else "unknown"


def _clean(message: Any, folder: str | None) -> str:
    """One line, without the temporary folder an upload was read from."""
    text = " ".join(str(message).split())
    return text.replace(f"{folder}/", "").replace(str(folder), "") if folder else text


def _tail_jsonl(path: Path, limit: int) -> Iterator[dict[str, Any]]:
    """The JSON objects of the last `limit` bytes of a JSON-lines file (a cut first line is skipped)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - limit))
            data = handle.read()
    except FileNotFoundError:
        return
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > limit:
        lines = lines[1:]
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            yield entry


__all__ = [
    "UPLOAD_LIMIT",
    "Admin",
    "AdminError",
    "add_admin_routes",
    "check_upload",
    "safe_name",
]
