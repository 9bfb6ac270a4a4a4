"""ASGI middleware in front of the whole app: body limits, header sanity, and Gradio's routes checked
before Gradio sees them.

Every request body is counted as it streams in (chunked bodies too, whatever `Content-Length`
says): past the limit of its route the request gets 413 and the app's own reply is dropped.
Malformed `Host`, `X-Forwarded-Host` and `X-Gradio-Server` headers get 400 (Gradio builds URLs
from them and would fail with a 500). Gradio's upload routes are refused (the app has no file
input), its call-by-name routes take the public API names only, JSON sent to it must be standard
JSON (no NaN) holding text only (no unpaired surrogate: Gradio fails on echoing one), and a queue join must name an event that exists: each would otherwise raise
inside Gradio and answer 500.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.errors import WendaError

KIB = 1024
API_PREFIX = "/api/"
ADMIN_UPLOAD = "/admin/api/upload"
GRADIO_PREFIX = "/gradio_api/"
REFUSED = ("/gradio_api/upload", "/gradio_api/upload_progress", "/gradio_api/process_recording")
_NAMED_CALL = re.compile(r"^/gradio_api/(call/v2|call|run|api)/([^/]*)(?:/.*)?$")
_DIRECT = ("run", "api")  # direct calls: the page runs its unqueued events as run/predict with an fn_index
_QUEUE_JOIN = "/gradio_api/queue/join"
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)
_SERVER_URL = re.compile(r"^https?://([^/?#]+)(?:[/?#].*)?$")


@dataclass(frozen=True)
class BodyLimits:
    """The largest request body, in bytes: REST routes, and everything else (Gradio's routes carry
    the conversation shown in the chat, so they need more), and the admin page's file upload."""

    api: int = 64 * KIB
    other: int = 1024 * KIB
    upload: int = 1024 * KIB

    def for_path(self, path: str) -> int:
        """The limit of the route at `path`."""
        if path == ADMIN_UPLOAD:
            return self.upload
        return self.api if path.startswith(API_PREFIX) else self.other


class BodyTooLarge(WendaError):
    """Raised from `receive` once a body passes its limit (the guard then answers 413)."""


class RequestGuard:
    """The ASGI middleware described in the module docstring.

    `api_names` gives the Gradio API names callable by name, `event_ids` the valid `fn_index`
    values of a queue join, `direct_ids` those of the events the page runs without the queue
    (all read when needed: the Gradio app is built after the guard).
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: BodyLimits = BodyLimits(),
        api_names: Callable[[], Collection[str]] = frozenset,
        event_ids: Callable[[], Collection[int]] = frozenset,
        direct_ids: Callable[[], Collection[int]] = frozenset,
    ) -> None:
        self.app = app
        self.limits = limits
        self.api_names = api_names
        self.event_ids = event_ids
        self.direct_ids = direct_ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, headers = scope["path"], Headers(scope=scope)
        limit = self.limits.for_path(path)
        refusal = (
            header_problem(headers) or self._route_problem(scope, path) or _length_problem(headers, limit)
        )
        if refusal:
            await send_error(send, *refusal)
            return
        if scope["method"] == "POST" and path.startswith(GRADIO_PREFIX) and _is_json(headers):
            await self._checked_json(scope, receive, send, limit, path)
            return
        await _limited(self.app, scope, receive, send, limit)

    def _route_problem(self, scope: Scope, path: str) -> tuple[int, str] | None:
        if path.rstrip("/") in REFUSED:
            return 404, "this app takes no file uploads"
        named = _NAMED_CALL.match(path)
        if named and named.group(2) not in self.api_names():
            if named.group(1) in _DIRECT and scope["method"] == "POST":
                return None  # allowed with a valid fn_index in its body (_checked_json)
            return 404, self._unknown_name(named.group(2))
        return None

    def _unknown_name(self, name: str) -> str:
        names = ", ".join(sorted(self.api_names())) or "none"
        return f"no Gradio API endpoint named {name[:60]!r}: the endpoints are {names}"

    async def _checked_json(self, scope: Scope, receive: Receive, send: Send, limit: int, path: str) -> None:
        """Read a JSON body for Gradio (within the limit), check it, then pass it on unchanged.

        Gradio answers a body that is not standard JSON (NaN, Infinity) or a queue join naming no
        event with a 500; these get 400 and 422 here instead.
        """
        try:
            body = await _read_body(receive, limit)
        except BodyTooLarge:
            await send_error(send, 413, f"request body larger than {limit} bytes")
            return
        try:
            data = json.loads(body, parse_constant=_not_json, parse_float=_finite) if body.strip() else None
        except (ValueError, RecursionError):
            await send_error(send, 400, "the request body is not valid JSON")
            return
        problem = _surrogate_problem(data)
        named = _NAMED_CALL.match(path)
        if not problem and path.rstrip("/") == _QUEUE_JOIN:
            problem = self._join_problem(data, self.event_ids())
        elif not problem and named and named.group(1) in _DIRECT and named.group(2) not in self.api_names():
            if not isinstance(data, dict) or data.get("fn_index") is None:
                await send_error(send, 404, self._unknown_name(named.group(2)))
                return
            problem = self._join_problem(data, self.direct_ids())
        if problem:
            await send_error(send, 422, problem)
            return
        direct = named is not None and named.group(1) in _DIRECT
        await self.app(scope, _replay(body, receive), _no_500(send) if direct else send)

    @staticmethod
    def _join_problem(data: object, ids: Collection[int]) -> str | None:
        """Why a queue join (or a direct run) names none of the events `ids`, if it does not."""
        if not isinstance(data, dict):
            return "the request body must be a JSON object"
        fn_index = data.get("fn_index")
        if isinstance(fn_index, bool) or not isinstance(fn_index, int) or fn_index not in ids:
            return f"fn_index {str(fn_index)[:20]!r} names no event of this app that can be run this way"
        return None


def _no_500(send: Send) -> Send:
    """For a direct run: Gradio answers 500 for any failure of an unqueued event, even one caused by
    the data sent (which its queue reports as a failed event, not an HTTP error). Such an answer
    becomes a 422 naming no detail; Gradio has logged the traceback."""
    failed = False

    async def wrapped(message: Message) -> None:
        nonlocal failed
        if message["type"] == "http.response.start" and message["status"] == 500:
            failed = True
            return
        if not failed:
            await send(message)
        elif not message.get("more_body", False):
            await send_error(send, 422, "this event could not run with the data sent")

    return wrapped


def _surrogate_problem(data: object) -> str | None:
    """A message if a string in `data` holds an unpaired surrogate (Gradio fails on echoing one)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                code = ord(item[exc.start])
                return f"the request holds an unpaired surrogate U+{code:04X}, which is not a character: send valid UTF-8 text"
    return None


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large for a JSON number")
    return number


def _is_json(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


def header_problem(headers: Headers) -> tuple[int, str] | None:
    """A 400 for a Host, X-Forwarded-Host or X-Gradio-Server header that is not a host[:port] (or URL)."""
    for name in ("host", "x-forwarded-host"):
        for value in headers.getlist(name):
            for part in value.split(","):
                if not is_host(part.strip()):
                    return 400, f"malformed {name} header: expected host[:port]"
    for value in headers.getlist("x-gradio-server"):
        match = _SERVER_URL.match(value.strip())
        if not match or not is_host(match.group(1)):
            return 400, "malformed x-gradio-server header: expected http(s)://host[:port]"
    return None


def is_host(value: str) -> bool:
    """Whether `value` is host[:port]: a DNS name, an IPv4 address or a bracketed IPv6 address."""
    match = _HOST.match(value)
    if not match:
        return False
    port = value.rsplit(":", 1)[1] if ":" in value and not value.endswith("]") else None
    return port is None or 0 < int(port) < 65536


def _length_problem(headers: Headers, limit: int) -> tuple[int, str] | None:
    length = headers.get("content-length")
    if length is None:
        return None
    if not length.strip().isdigit():
        return 400, "malformed content-length header"
    if int(length) > limit:
        return 413, f"request body larger than {limit} bytes"
    return None


async def _limited(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """Run `app` with a `receive` that counts body bytes; past `limit`, answer 413 instead of the app."""
    received = 0
    exceeded = False
    started = False

    async def counting_receive() -> Message:
        nonlocal received, exceeded
        if exceeded:
            raise BodyTooLarge
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                exceeded = True
                raise BodyTooLarge
        return message

    async def guarded_send(message: Message) -> None:
        nonlocal started
        if exceeded and not started:
            return  # the app's reply to the cut-off body (a 400 or 500) is replaced by the 413
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, counting_receive, guarded_send)
    except BodyTooLarge:
        pass
    except Exception:
        if not exceeded:
            raise
    if exceeded and not started:
        await send_error(send, 413, f"request body larger than {limit} bytes")


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, then waits on the real one (for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_error(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """Send a JSON `{"error": message}` response."""
    body = json.dumps({"error": message}, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


__all__ = ["BodyLimits", "RequestGuard", "header_problem", "is_host", "send_error"]
