"""Limits that keep one client from hurting others: body size (counted as it streams), no uploads,
and health checks that answer at once however busy the answering threads are."""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import httpx
import pytest

from qa import load_bot
from ui.app import create_app
from ui.service import BotService
from ui.settings import Settings

QUESTION = "2024年中国与中亚五国的贸易额达到多少？"
API_LIMIT = 64 * 1024  # bytes, as the README says: REST routes
OTHER_LIMIT = 1024 * 1024  # everything else (the chat sends its conversation)


def _chunked_post(port: int, path: str, total: int, chunk: int = 16 * 1024) -> tuple[bytes, int]:
    """POST a chunked body of up to `total` bytes, stopping as soon as the server answers;
    return the start of the answer and how many body bytes were sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    sent, piece = 0, b'{"question": "' + b"a" * (chunk - 14)
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered: stop sending
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sent += len(piece)
            time.sleep(0.002)  # a client on a network, not a race with the server's thread
            piece = b"a" * chunk
        else:
            sock.sendall(b'"}\r\n0\r\n\r\n')
        sock.settimeout(10)
        answer = _response(sock)
    except (BrokenPipeError, ConnectionResetError):
        answer = _response(sock)
    finally:
        sock.close()
    return answer, sent


def _response(sock: socket.socket) -> bytes:
    """The whole response: the head and the body may arrive in separate packets."""
    answer = sock.recv(4096)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        try:
            more = sock.recv(4096)
        except OSError:  # the server closed the connection after its answer
            break
        if not more:
            break
        answer, body = answer + more, body + more
    return answer


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/ask", API_LIMIT),
        ("/gradio_api/call/ask", OTHER_LIMIT),
        ("/gradio_api/queue/join", OTHER_LIMIT),
        ("/gradio_api/upload", OTHER_LIMIT),
    ],
)
def test_a_chunked_body_is_cut_off_at_the_limit(service, settings, serve, path, limit):
    """Issue 14.2: the limit only read Content-Length; an 8 MB chunked body got 200."""
    server = serve(create_app(settings, service))
    answer, sent = _chunked_post(server.port, path, total=8 * 1024 * 1024)
    status = int(answer.split(b" ", 2)[1])
    assert status in (404, 413) if path.endswith("upload") else status == 413, answer[:200]
    assert sent < limit + 1024 * 1024  # stopped near the limit, not after 8 MB
    assert b'"error"' in answer
    # the server is unharmed
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_a_declared_oversized_body_is_refused_before_it_is_read(client):
    big = b"x" * (OTHER_LIMIT + 1)
    for path in ("/api/ask", "/gradio_api/queue/join", "/gradio_api/call/ask"):
        response = client.post(path, content=big, headers={"content-type": "application/json"})
        assert response.status_code == 413, path
        assert "larger than" in response.json()["error"]


def test_uploads_are_refused_without_a_path(client, tmp_path):
    response = client.post("/gradio_api/upload", files={"files": ("a.txt", b"x" * 1000)})
    assert response.status_code == 404 and "no file uploads" in response.json()["error"]
    assert "/tmp" not in response.text and str(tmp_path) not in response.text
    assert client.get("/gradio_api/upload_progress", params={"upload_id": "x"}).status_code == 404


def test_a_normal_chat_request_fits_the_gradio_limit():
    """The chat sends its whole conversation with each question: 40 long answers still fit."""
    from ui.render import answer_html

    passage = {
        "rank": 1,
        "text": "中国与中亚五国贸易额达到948亿美元，" * 40,
        "score": 0.9,
        "highlights": [[0, 18]],
        "citation": {
            "article_id": "a",
            "article_title": "标题" * 10,
            "section": "小节",
            "paragraph": 3,
            "source": "人民日报",
            "date": "6月30日",
            "chunk_id": "c",
            "start": 0,
            "end": 700,
            "url": None,
        },
    }
    reply = answer_html(
        {"question": QUESTION, "answer": "948亿美元", "abstained": False, "passages": [passage] * 5}
    )
    chat = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": reply}] * 40
    body = json.dumps({"data": [QUESTION, chat, None, None], "fn_index": 1}, ensure_ascii=False).encode()
    assert len(body) < OTHER_LIMIT


class _SlowEmbedder:
    """Wraps an embedder: every query embedding takes `delay` seconds (a busy model)."""

    def __init__(self, inner, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.model_id, self.fingerprint, self.dimension = inner.model_id, inner.fingerprint, inner.dimension

    def embed_queries(self, texts):
        time.sleep(self.delay)
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=False):
        return self.inner.embed_passages(texts)


def test_health_answers_at_once_under_64_slow_questions(service, tmp_path, fake_embedder, serve):
    """Issue 14.3: /api/health shared the worker pool with /api/ask and took seconds under load."""
    slow = BotService(
        tmp_path / "idx",
        loader=lambda: load_bot(tmp_path / "idx", embedder=_SlowEmbedder(fake_embedder, 0.5)),
        max_concurrent=4,
    ).start(background=False)
    server = serve(create_app(Settings(index=tmp_path / "idx", concurrency=4), slow))
    statuses: list[int] = []

    def ask() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            statuses.append(client.post("/api/ask", json={"question": QUESTION}).status_code)

    askers = [threading.Thread(target=ask) for _ in range(64)]
    for thread in askers:
        thread.start()
    time.sleep(1.5)  # every asker has sent its question; 4 are being answered, 60 wait
    live, ready, loads, alive = [], [], [], []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(10):
            start = time.perf_counter()
            response = client.get("/api/health")
            ready.append(time.perf_counter() - start)
            loads.append(response.json().get("load"))
            start = time.perf_counter()
            response = client.get("/api/health/live")
            live.append(time.perf_counter() - start)
            alive.append(response.json())
            time.sleep(0.05)
    for thread in askers:
        thread.join(60)
    assert max(ready) < 0.5, ready
    assert max(live) < 0.5 and alive == [{"status": "alive"}] * 10, (live, alive)
    assert any(load["answering"] == 4 and load["waiting"] > 20 for load in loads), loads
    assert statuses == [200] * 64
