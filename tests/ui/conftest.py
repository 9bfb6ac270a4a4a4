"""Fixtures for the ui tests: real servers on free loopback ports, stopped at the end of the test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from index.build import build_index
from qa import load_bot
from ui.app import create_app
from ui.service import BotService
from ui.settings import Settings

HOST = "http://127.0.0.1:8000"  # an allowed site in the `settings` fixture


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


@pytest.fixture
def service(sample_corpus, tmp_path, fake_embedder):
    """The sample corpus indexed with the fake embedder, loaded (not batched)."""
    build_index(sample_corpus, tmp_path / "idx", embedder=fake_embedder, progress=False)
    return BotService(
        tmp_path / "idx", loader=lambda: load_bot(tmp_path / "idx", embedder=fake_embedder)
    ).start(background=False)


@pytest.fixture
def settings(tmp_path):
    """Settings with a feedback log and HOST allowed."""
    return Settings(index=tmp_path / "idx", feedback_log=tmp_path / "feedback.jsonl", allowed_origins=(HOST,))


@pytest.fixture
def client(service, settings):
    """A TestClient on the whole app."""
    with TestClient(create_app(settings, service)) as test_client:
        yield test_client


def _gradio_call(client, api_name: str, data: list) -> tuple[str, object]:
    body = json.dumps({"data": data})  # ASCII escapes: lone surrogates too
    started = client.post(
        f"/gradio_api/call/{api_name}", content=body, headers={"content-type": "application/json"}
    )
    assert started.status_code == 200, started.text
    stream = client.get(f"/gradio_api/call/{api_name}/{started.json()['event_id']}")
    event, payload = "", None
    for line in stream.text.splitlines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            payload = json.loads(line[len("data: ") :])
    return event, payload


@pytest.fixture
def gradio_call() -> Callable[..., tuple[str, object]]:
    """gradio_call(client, api_name, data): call a Gradio API endpoint by name (POST
    /gradio_api/call/NAME, then read its event stream); the last event's name ('complete' or
    'error') and its data."""
    return _gradio_call


def _gradio_event(client, fn_index: int, data: list, session_hash: str, event_data=None) -> dict:
    started = client.post(
        "/gradio_api/queue/join",
        content=json.dumps(
            {"data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": event_data}
        ),
        headers={"content-type": "application/json"},
    )
    if started.status_code != 200:
        return {"msg": "refused", "status": started.status_code, "body": started.text}
    event_id = started.json()["event_id"]
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[len("data:") :])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    return message
    raise AssertionError(f"event {event_id} never completed")


@pytest.fixture
def gradio_event() -> Callable[..., dict]:
    """gradio_event(client, fn_index, data, session_hash, event_data=None): run one chat event
    through Gradio's queue, as the page does; its process_completed message (or, if the join is
    refused, {"msg": "refused", "status", "body"})."""
    return _gradio_event


def _gradio_direct(client, fn_index: int, data: list, session_hash: str, event_data=None):
    return client.post(
        "/gradio_api/run/predict",
        content=json.dumps(
            {"data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": event_data}
        ),
        headers={"content-type": "application/json"},
    )


@pytest.fixture
def gradio_direct() -> Callable:
    """gradio_direct(client, fn_index, data, session_hash, event_data=None): run one unqueued chat
    event as the page does (POST /gradio_api/run/predict); the response."""
    return _gradio_direct


def _chat_ask(client, ids: dict[str, int], question: str, session_hash: str) -> dict:
    shown = _gradio_direct(client, ids["start"], [question, [], None, None], session_hash)
    assert shown.status_code == 200, shown.text
    chat = shown.json()["data"][1]
    return _gradio_event(client, ids["finish"], [None, chat, None, None], session_hash)


@pytest.fixture
def chat_ask() -> Callable[..., dict]:
    """chat_ask(client, ids, question, session_hash): ask in the chat as the page does (the
    question and a pending reply at once, then the answer through the queue); the answer's
    process_completed message."""
    return _chat_ask


def event_ids(app) -> dict[str, int]:
    """The chat's event ids (fn_index) by handler name."""
    blocks = next(r.app.get_blocks() for r in app.routes if hasattr(getattr(r, "app", None), "get_blocks"))
    return {fn.name: fn_id for fn_id, fn in blocks.fns.items()}


@pytest.fixture
def chat_events() -> Callable[..., dict[str, int]]:
    """chat_events(app): the chat's event ids (fn_index) by handler name."""
    return event_ids


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
