"""Fixtures for the ui tests: real servers on free loopback ports, stopped at the end of the test."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn


class RunningServer:
    """A uvicorn server on a background thread, listening on a socket bound before it starts."""

    def __init__(self, app, sock: socket.socket) -> None:
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # Gradio's heartbeat streams stay open until cancelled: wait 1 s for them, not the 10 s of stop()
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    def start(self, timeout: float = 30) -> RunningServer:
        self.thread.start()
        deadline = time.time() + timeout
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def bound_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port (so the port is known before the app is built)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _serving() -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def start(app, sock: socket.socket | None = None) -> RunningServer:
        server = RunningServer(app, sock or bound_socket()).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def serve() -> Iterator[Callable[..., RunningServer]]:
    """serve(app) or serve(app, sock): start a server for this test only."""
    yield from _serving()


@pytest.fixture(scope="module")
def serve_module() -> Iterator[Callable[..., RunningServer]]:
    """Like `serve`, for servers shared by the tests of one module."""
    yield from _serving()


@pytest.fixture(scope="session")
def free_socket() -> Callable[[], socket.socket]:
    """bound_socket, for tests that need a port before building the app that will listen on it."""
    return bound_socket


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    """Debian's Chromium (or $WENDA_CHROMIUM); the test fails, never skips, when it is missing."""
    path = os.environ.get("WENDA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(
            "Chromium not found (looked for $WENDA_CHROMIUM, `chromium` on PATH, /usr/bin/chromium): "
            "run `make browser-deps` (apt-get install chromium) or set WENDA_CHROMIUM",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Debian Chromium per test module (Playwright never downloads a browser)."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
