"""Which other sites may use the app from a browser: one list drives CORS, frame-ancestors and refusals.

Gradio's own origin check only protects apps served on localhost, so the app enforces its own
policy: a browser request that carries an `Origin` other than the app's own or an allowed one
is refused with 403, HTML pages may only be framed by the app itself and the allowed origins,
and CORS headers are given to the allowed origins only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.settings import ANY_ORIGIN, Settings, normalise_origins

_DEFAULT_PORTS = {"http": 80, "https": 443}
# an Origin exactly as browsers serialise it: lower case, no path or trailing slash, no default
# port, no leading zeros (anything else was not sent by a browser and matches nothing)
_ORIGIN = re.compile(
    r"^(https?)://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::([1-9][0-9]{0,4}))?$"
)
_HOST_HEADER = re.compile(r"^([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.?|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$")
_ANY_ADDRESS = ("0.0.0.0", "::", "")
PUBLIC_PATHS = ("/widget.js",)  # a site that loads the widget script is still refused the chat frame


class OriginPolicy:
    """The origins allowed besides the app's own ('self')."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed: tuple[str, ...] = normalise_origins(allowed)
        self.any = ANY_ORIGIN in self.allowed

    def allows(self, origin: str, host: str | None) -> bool:
        """Whether a page on `origin` may use the app reached as `host` (the Host header).

        Only origins in the form browsers send count: `HTTP://…`, `http://host/` or `:08000`
        are refused even when they name an allowed site.
        """
        if self.any:
            return True
        if parse_origin(origin) is None:  # "null", and forms no browser sends
            return False
        return is_same_origin(origin, host) or origin in self.allowed

    def frame_ancestors(self) -> str:
        """The CSP directive for pages that may be framed."""
        return "frame-ancestors *" if self.any else " ".join(["frame-ancestors", "'self'", *self.allowed])

    def cors_origins(self) -> list[str]:
        """Origins for Starlette's CORSMiddleware."""
        return [ANY_ORIGIN] if self.any else list(self.allowed)

    def describe(self) -> str:
        """A log line: who may embed the chat, and how to allow a site."""
        if self.any:
            return (
                "Embedding: ANY site may frame the chat and call the API (allowed_origins = *). "
                "List the sites instead to restrict it."
            )
        if not self.allowed:
            return (
                "Embedding: only this app's own pages may frame the chat or call the API from a browser. "
                "To allow a site, add its origin: --allowed-origins https://news.example.com "
                "(or WENDA_ALLOWED_ORIGINS, or allowed_origins in the config file)."
            )
        return (
            f"Embedding: pages on {', '.join(self.allowed)} may frame the chat (CSP frame-ancestors) "
            "and call the API (CORS); every other site is refused."
        )


def parse_origin(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an Origin header in the form browsers send, else None."""
    match = _ORIGIN.match(origin)
    if not match:
        return None
    scheme, host, port = match.groups()
    if port is not None and (int(port) > 65535 or int(port) == _DEFAULT_PORTS[scheme]):
        return None  # browsers leave the default port out
    return scheme, host, int(port) if port else _DEFAULT_PORTS[scheme]


def parse_host(host: str | None, scheme: str = "http") -> tuple[str, int] | None:
    """(host, port) of a Host header (case-insensitive; no port: the scheme's default), else None."""
    match = _HOST_HEADER.match((host or "").strip().lower())
    if not match:
        return None
    name, port = match.groups()
    number = int(port) if port else _DEFAULT_PORTS.get(scheme, 80)
    return (name.rstrip("."), number) if 0 < number < 65536 else None


def is_same_origin(origin: str, host: str | None) -> bool:
    """Whether `origin` names the host:port that the request was sent to (scheme-blind, for TLS proxies)."""
    parsed = parse_origin(origin)
    if parsed is None:
        return False
    scheme, name, port = parsed
    return parse_host(host, scheme) == (name, port)


def own_hosts(settings: Settings, server: tuple[str, int] | None = None) -> tuple[str, ...]:
    """The host:port names this server answers to by itself: the address a request came in on
    (`server`, from the socket, not from any header) or else the configured one, with the loopback
    names when that address is a loopback or any address."""
    host, port = (server[0], server[1]) if server else (settings.host, settings.port)
    names = [] if host in _ANY_ADDRESS else [host]
    if host in (*_ANY_ADDRESS, "127.0.0.1", "localhost", "::1"):
        names += ["127.0.0.1", "localhost", "[::1]"]
    names = [f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names]
    return tuple(dict.fromkeys(f"{n.lower()}:{port}" for n in names))


def public_base_url(settings: Settings, host: str | None, server: tuple[str, int] | None = None) -> str:
    """The app's address for snippets that other sites copy: the configured public URL; else the
    request's Host if it is one of the server's own names (`own_hosts`); else the first of those.
    A Host header is never copied into a page unless it is one of these names."""
    if settings.public_url:
        return settings.public_url
    known = own_hosts(settings, server)
    wanted = (host or "").strip().lower()
    if wanted and ":" not in wanted.rsplit("]", 1)[-1]:
        wanted += ":80"  # no port in Host: the default one
    if wanted in known:
        return "http://" + wanted.removesuffix(":80")
    return "http://" + known[0].removesuffix(":80")


class OriginGuard:
    """ASGI middleware: refuse foreign origins, and put frame-ancestors on every HTML page."""

    def __init__(
        self, app: ASGIApp, policy: OriginPolicy, public_paths: Sequence[str] = PUBLIC_PATHS
    ) -> None:
        self.app = app
        self.policy = policy
        self.public_paths = tuple(public_paths)
        self.csp = policy.frame_ancestors()
        self.same_origin_only = not policy.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if (
            origin
            and scope["path"] not in self.public_paths
            and not self.policy.allows(origin, headers.get("host"))
        ):
            await _refuse(origin, send)
            return
        await self.app(scope, receive, self._with_frame_policy(send))

    def _with_frame_policy(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = self.csp
                    if self.same_origin_only:
                        headers["X-Frame-Options"] = "SAMEORIGIN"  # for browsers without frame-ancestors
            await send(message)

        return wrapped


def add_origin_policy(app: Starlette, policy: OriginPolicy) -> None:
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


async def _refuse(origin: str, send: Send) -> None:
    """Send a 403 JSON error for a page on a site that is not allowed."""
    body = json.dumps(
        {
            "error": f"origin {origin!r} is not allowed to use this app: "
            "add it to allowed_origins (--allowed-origins) to embed the chat there"
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = [
    "OriginGuard",
    "OriginPolicy",
    "add_origin_policy",
    "is_same_origin",
    "own_hosts",
    "parse_origin",
    "public_base_url",
]
