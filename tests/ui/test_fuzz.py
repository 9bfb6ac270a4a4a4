"""Hostile inputs hurt no one (issue 14): a fixed corpus (data/hostile.jsonl, over 200 inputs) is
sent to POST /api/ask, the Gradio /ask endpoint and the chat's feedback (like) event of a running
server, while another client keeps asking a normal question. No answer may be a 5xx or show a
traceback, a raw Python message or a server path, and the normal question must get its same
correct answer throughout."""

from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path

import httpx

from index.build import build_index
from ui.app import create_app
from ui.service import BotService, load_batched_bot
from ui.settings import Settings

CORPUS = Path(__file__).resolve().parent / "data" / "hostile.jsonl"
REPO = Path(__file__).resolve().parents[2]
QUESTION = "2024年中国与中亚五国的贸易额达到多少？"
SAFE = "峰会在哪里举行？"
RAW_PYTHON = (
    "Traceback",
    'File "',
    "invalid literal",
    "has no attribute",
    "object is not",
    "NoneType",
    "KeyError",
)


def load_corpus() -> list[dict]:
    """The corpus, with `repeat` items expanded (value * repeat)."""
    items = []
    with CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            if item.get("repeat"):
                item["value"] = item["value"] * item["repeat"]
            items.append(item)
    return items


def test_the_corpus_holds_over_200_hostile_inputs():
    kinds = [item["kind"] for item in load_corpus()]
    assert len(kinds) >= 200
    assert {"question", "top_k", "history", "raw", "raw_hex", "like", "headers"} <= set(kinds)


class Checker:
    """Checks every response: status below 500, no raw Python message, no server path."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets
        self.count = 0

    def __call__(self, what: str, status: int, text: str) -> None:
        self.count += 1
        assert status < 500, (what, status, text[:300])
        for marker in (*RAW_PYTHON, *self.secrets):
            assert marker not in text, (what, marker, text[:300])


def _json(payload) -> bytes:
    return json.dumps(payload).encode()  # ASCII escapes, so lone surrogates are sent as such


def _sse_events(text: str) -> list[tuple[str, str]]:
    events, name = [], ""
    for line in text.splitlines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, line[len("data: ") :]))
    return events


def _raw_request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, str]:
    """Send a request exactly as given (any header, even one an HTTP client refuses to send);
    return its status and body text."""
    fields = {
        "Host": f"127.0.0.1:{port}",
        "Content-Type": "application/json",
        **headers,
        "Connection": "close",
    }
    fields.setdefault("Content-Length", str(len(body)))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode("utf-8") + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 400  # no answer: refused
    return status, response.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


class Caller:
    """Sends one hostile input to the three routes and checks each answer."""

    def __init__(
        self, client: httpx.Client, check: Checker, like_id: int, gradio_direct, gradio_event
    ) -> None:
        self.client, self.check, self.like_id = client, check, like_id
        self.gradio_direct, self.gradio_event = gradio_direct, gradio_event

    def rest(self, body: bytes) -> None:
        response = self.client.post("/api/ask", content=body, headers={"content-type": "application/json"})
        self.check(f"REST {body[:80]!r}", response.status_code, response.text)
        if response.status_code != 200:
            assert set(response.json()) == {"error"}, response.text[:200]

    def gradio_ask(self, data) -> None:
        started = self.client.post(
            "/gradio_api/call/ask",
            content=_json({"data": data}),
            headers={"content-type": "application/json"},
        )
        self.check(f"Gradio /ask {str(data)[:80]}", started.status_code, started.text)
        if started.status_code != 200:
            return
        stream = self.client.get(f"/gradio_api/call/ask/{started.json()['event_id']}")
        self.check(f"Gradio /ask stream {str(data)[:80]}", stream.status_code, stream.text)
        assert _sse_events(stream.text)[-1][0] in ("complete", "error"), stream.text[:300]

    def gradio_raw(self, body: bytes) -> None:
        for path in ("/gradio_api/call/ask", "/gradio_api/queue/join", "/gradio_api/run/predict"):
            response = self.client.post(path, content=body, headers={"content-type": "application/json"})
            self.check(f"Gradio raw {path} {body[:60]!r}", response.status_code, response.text)

    def like(self, event_data) -> None:
        # as the page sends it (an unqueued event), and through the queue
        direct = self.gradio_direct(self.client, self.like_id, [None, None], "fuzz-session", event_data)
        self.check(f"like {str(event_data)[:80]}", direct.status_code, direct.text)
        queued = self.gradio_event(self.client, self.like_id, [None, None], "fuzz-session", event_data)
        self.check(f"queued like {str(event_data)[:80]}", queued.get("status", 200), json.dumps(queued))

    def send(self, item: dict) -> None:
        kind, value = item["kind"], item.get("value")
        if kind == "question":
            self.rest(_json({"question": value, "top_k": 5}))
            self.gradio_ask([value, 5, []])
        elif kind == "top_k":
            self.rest(_json({"question": SAFE, "top_k": value}))
            self.gradio_ask([SAFE, value, []])
        elif kind == "history":
            self.rest(_json({"question": SAFE, "history": value}))
            self.gradio_ask([SAFE, 5, value])
        elif kind in ("raw", "raw_hex"):
            body = bytes.fromhex(value) if kind == "raw_hex" else value.encode("utf-8", "surrogatepass")
            self.rest(body)
            self.gradio_raw(body)
        elif kind == "like":
            self.like(value)
        elif kind == "headers":
            body = _json({"question": SAFE})
            for method, path in (("GET", "/"), ("GET", "/api/health"), ("GET", "/config"), ("GET", "/embed")):
                self.check(f"{path} {value}", *_raw_request(self.client.base_url.port, method, path, value))
            self.check(
                f"REST {value}", *_raw_request(self.client.base_url.port, "POST", "/api/ask", value, body)
            )
        else:
            raise AssertionError(f"unknown kind {kind!r} in {CORPUS}")


class NormalAsker(threading.Thread):
    """Asks the normal question over REST and the Gradio API until stopped; records what went wrong."""

    def __init__(self, url: str, reference: dict, gradio_call) -> None:
        super().__init__(daemon=True)
        self.url, self.reference, self.gradio_call = url, reference, gradio_call
        self.stop = threading.Event()
        self.answers = 0
        self.problems: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.is_set():
                response = client.post("/api/ask", json={"question": QUESTION, "top_k": 3})
                if response.status_code != 200 or response.json() != self.reference:
                    self.problems.append(f"REST {response.status_code}: {response.text[:200]}")
                event, payload = self.gradio_call(client, "ask", [QUESTION, 3, []])
                if event != "complete" or payload[0] != self.reference:
                    self.problems.append(f"Gradio {event}: {str(payload)[:200]}")
                self.answers += 1


def test_hostile_inputs_hurt_no_one(
    sample_corpus,
    tmp_path,
    fake_embedder,
    serve,
    gradio_call,
    gradio_direct,
    gradio_event,
    chat_ask,
    chat_events,
):
    index = tmp_path / "idx"
    build_index(sample_corpus, index, embedder=fake_embedder, progress=False)
    service = BotService(
        index, loader=lambda: load_batched_bot(index, embedder_for=lambda _: fake_embedder), max_concurrent=4
    )
    service.start(background=False)
    settings = Settings(index=index, feedback_log=tmp_path / "feedback.jsonl", concurrency=4)
    app = create_app(settings, service)
    ids = chat_events(app)
    server = serve(app)
    secrets = [str(tmp_path), str(REPO), sys.prefix, "site-packages", "/tmp/gradio", "root:x:0:0"]
    check = Checker(secrets)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        reference = client.post("/api/ask", json={"question": QUESTION, "top_k": 3}).json()
        assert "948亿美元" in json.dumps(reference, ensure_ascii=False)
        assert chat_ask(client, ids, QUESTION, "fuzz-session")["success"]  # an answer to like
        asker = NormalAsker(server.url, reference, gradio_call)
        asker.start()
        caller = Caller(client, check, ids["on_like"], gradio_direct, gradio_event)
        try:
            for item in load_corpus():
                caller.send(item)
        finally:
            asker.stop.set()
            asker.join(60)
    assert check.count > 700
    assert asker.answers >= 10 and asker.problems == [], asker.problems[:5]
    votes = [json.loads(line) for line in settings.feedback_log.read_text(encoding="utf-8").splitlines()]
    assert 1 <= len(votes) <= 4 and {v["verdict"] for v in votes} <= {"up", "down"}
    assert {v["question"] for v in votes} == {QUESTION}  # the server's record, whatever the page sent
