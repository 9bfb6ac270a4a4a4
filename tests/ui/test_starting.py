"""Listening at once: the start app answers until the full app (Gradio and all) is switched in, whose
lifespan then runs on the server's own loop (Gradio's queue answers), and the shutdown hooks run."""

from __future__ import annotations

import threading

import httpx
import pytest

from index.build import build_index
from qa import load_bot
from ui.app import create_app
from ui.progress import StartProgress
from ui.security import OriginPolicy
from ui.service import BotService
from ui.settings import Settings
from ui.starting import SwitchingApp, starting_app


@pytest.fixture
def service(tmp_path, sample_corpus, fake_embedder):
    index_dir = tmp_path / "idx"
    build_index(sample_corpus, index_dir, embedder=fake_embedder, progress=False)
    gate = threading.Event()

    def slow_loader():
        gate.wait(60)
        return load_bot(index_dir, embedder=fake_embedder, progress=False)

    service = BotService(index_dir, loader=slow_loader, progress=StartProgress()).start(background=True)
    service.gate = gate
    yield service
    gate.set()
    service.close()


def test_start_app_then_full_app_then_shutdown_hooks(serve, service):
    from gradio_client import Client

    progress = service.progress
    progress.begin("web")
    app = SwitchingApp(starting_app(progress.snapshot, OriginPolicy()))
    closed = threading.Event()
    app.on_shutdown.append(closed.set)
    server = serve(app)
    url = server.url

    page = httpx.get(url + "/")
    assert page.status_code == 200 and 'id="wd-progress"' in page.text
    assert page.headers["content-security-policy"] == "frame-ancestors 'self'"
    status = httpx.get(url + "/api/status").json()
    assert status["ready"] is False and status["steps"][0] == {
        **status["steps"][0],
        "name": "web",
        "state": "active",
    }
    for method, path in (("post", "/api/ask"), ("get", "/api/health"), ("get", "/widget.js")):
        response = httpx.request(
            method.upper(), url + path, json={"question": "问"} if method == "post" else None
        )
        assert response.status_code == 503 and response.headers["retry-after"] == "3", path
    assert httpx.get(url + "/api/status", headers={"Origin": "http://evil.example"}).status_code == 403

    app.switch(create_app(Settings(), service))  # the full app, its bot still loading
    progress.finish("web")
    assert 'id="wd-progress"' in httpx.get(url + "/").text  # the start page until the bot is ready
    asked = httpx.post(url + "/api/ask", json={"question": "问题"})
    assert asked.status_code == 503 and asked.headers["retry-after"]
    service.gate.set()
    assert service.wait(30) and service.ready
    chat = httpx.get(url + "/")
    assert chat.status_code == 200 and 'id="wd-progress"' not in chat.text and "gradio" in chat.text.lower()
    assert httpx.get(url + "/api/status").json()["ready"] is True
    client = Client(url + "/", verbose=False)  # Gradio's queue was started by the late lifespan
    try:
        result = client.predict("2024年中国与中亚五国的贸易额达到多少？", 3, [], api_name="/ask")
    finally:
        client.close()
    assert result["passages"]
    server.stop()
    assert closed.is_set()
