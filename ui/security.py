"""Which other sites may use the app from a browser: one list drives CORS, frame-ancestors and refusals.

Gradio's own origin check only protects apps served on localhost, so the app enforces its own
policy: a browser request that carries an `Origin` other than the app's own or an allowed one
is refused with 403, HTML pages may only be framed by the app itself and the allowed origins,
and CORS headers are given to the allowed origins only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.settings import ANY_ORIGIN, normalise_origins

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
PUBLIC_PATHS = ("/widget.js",)  # a site that loads the widget script is still refused the chat frame


class OriginPolicy:
    """The origins allowed besides the app's own ('self')."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed: tuple[str, ...] = normalise_origins(allowed)
        self.any = ANY_ORIGIN in self.allowed

    def allows(self, origin: str, host: str | None) -> bool:
        """Whether a page on `origin` may use the app reached as `host` (the Host header)."""
        if self.any or is_same_origin(origin, host):
            return True
        try:
            return normalise_origins([origin])[0] in self.allowed
        except (ValueError, IndexError):  # "null" and other non-origins
            return False

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


def is_same_origin(origin: str, host: str | None) -> bool:
    """Whether `origin` names the host:port that the request was sent to (scheme-blind, for TLS proxies)."""
    if not host:
        return False
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    target = urlsplit(f"//{host.strip()}")
    try:
        target_port = target.port or _DEFAULT_PORTS.get(parts.scheme)  # no port in Host: the default one
    except ValueError:
        return False
    return parts.hostname == (target.hostname or "") and port == target_port


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


__all__ = ["OriginGuard", "OriginPolicy", "add_origin_policy", "is_same_origin"]
