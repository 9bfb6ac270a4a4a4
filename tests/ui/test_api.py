"""The REST API and the Gradio API, on one app, with a small real index and a fake embedder."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from index.build import build_index
from qa import load_bot
from ui.app import AppSettings, create_app
from ui.service import BotService


@pytest.fixture
def service(sample_corpus, tmp_path, fake_embedder):
    build_index(sample_corpus, tmp_path / "idx", embedder=fake_embedder, progress=False)
    return BotService(tmp_path / "idx", loader=lambda: load_bot(tmp_path / "idx", embedder=fake_embedder)).start(background=False)


@pytest.fixture
def client(service, tmp_path):
    app = create_app(AppSettings(index_dir=tmp_path / "idx", feedback_path=tmp_path / "feedback.jsonl"), service)
    with TestClient(app) as test_client:
        yield test_client


def test_ask_returns_the_answer_json(client):
    response = client.post("/api/ask", json={"question": "2024年中国与中亚五国的贸易额达到多少？", "top_k": 3})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"question", "answer", "abstained", "passages"}
    assert len(data["passages"]) <= 3 and data["passages"][0]["citation"]["source"] == "人民日报"


@pytest.mark.parametrize(
    "body",
    [{"question": ""}, {"question": "   "}, {"question": "问" * 5000}, {"question": "q", "top_k": 0}, {"top_k": 3}, {"question": 12}],
)
def test_bad_requests_get_422_with_a_message(client, body):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    assert response.json()["error"]


def test_oversized_body_gets_413(client):
    response = client.post("/api/ask", content=b'{"question": "' + b"a" * 200_000 + b'"}', headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]


def test_health_reports_the_index(client):
    data = client.get("/api/health").json()
    assert data["index_loaded"] and data["articles"] == 2 and data["chunks"] > 10


def test_503_while_the_index_is_loading(tmp_path):
    gate = threading.Event()
    slow = BotService(loader=lambda: gate.wait(30) and None).start(background=True)
    with TestClient(create_app(AppSettings(), slow)) as test_client:
        assert test_client.post("/api/ask", json={"question": "问题"}).status_code == 503
        assert test_client.get("/api/health").status_code == 503
    gate.set()


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gradio_client_gets_an_answer(service, tmp_path):
    import uvicorn
    from gradio_client import Client

    port = _free_port()
    app = create_app(AppSettings(index_dir=tmp_path / "idx"), service)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.1)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        result = client.predict("2024年中国与中亚五国的贸易额达到多少？", 3, [], api_name="/ask")
        assert result["passages"] and result["question"].startswith("2024年")
    finally:
        server.should_exit = True
        thread.join(10)
