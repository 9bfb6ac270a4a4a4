"""Bad input and broken indexes get named, one-line errors: never a 500, a traceback or a server path."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from index.build import build_index
from qa import load_bot
from ui.app import create_app
from ui.chat import _respond
from ui.service import BotService
from ui.settings import Settings

QUESTION = "2024年中国与中亚五国的贸易额达到多少？"


def assert_clean(text: str, *secrets: str) -> None:
    """No traceback, no raw Python message and none of the server paths in `text`."""
    assert "Traceback" not in text and 'File "' not in text, text
    for secret in secrets:
        assert secret not in text, f"{secret!r} in {text!r}"


# issue 14.1: a lone surrogate is a 422 for that request alone


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "\\ud800"}',
        b'{"question": "\\udfff\\u5cf0\\u4f1a"}',
        b'{"question": "q", "history": ["\\ud800"]}',
    ],
)
def test_a_lone_surrogate_is_a_422_for_that_request_alone(client, body):
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "surrogate" in response.json()["error"]
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200


@pytest.mark.parametrize("body", [b'{"question": "\\u0000"}', b'{"question": "\\u200b \\ufeff\\u0007"}'])
def test_a_question_of_control_or_invisible_characters_is_empty(client, body):
    # a NUL alone used to be embedded and answered with a passage and its citation
    response = client.post("/api/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "empty" in response.json()["error"]


# issue 14.5: no filesystem path in health, ask or chat messages


@pytest.fixture
def broken_index(sample_corpus, tmp_path, fake_embedder):
    """An index whose current generation lost its records file."""
    index = tmp_path / "secret-place" / "idx"
    build_index(sample_corpus, index, embedder=fake_embedder, progress=False)
    generation = index / (index / "CURRENT").read_text(encoding="utf-8").strip()
    (generation / "records.sqlite").unlink()
    return index


def test_a_failed_load_names_the_problem_and_the_fix_without_a_path(broken_index, fake_embedder, caplog):
    with caplog.at_level(logging.ERROR, logger="wenda.ui"):
        service = BotService(broken_index, loader=lambda: load_bot(broken_index, embedder=fake_embedder))
        service.start(background=False)
    secrets = (str(broken_index), "secret-place", "gen-")
    with TestClient(create_app(Settings(index=broken_index), service)) as client:
        health = client.get("/api/health")
        ask = client.post("/api/ask", json={"question": QUESTION})
    chat, _, _ = _respond(service, QUESTION, [], [], top_k=5)
    for text in (health.json()["error"], ask.json()["error"]):  # for whoever runs the server
        assert_clean(text, *secrets)
        assert "records.sqlite" in text and "python -m index build" in text
    assert_clean(chat[1]["content"], *secrets)  # readers are told to ask the site's admin
    assert health.status_code == ask.status_code == 503
    assert str(broken_index) in caplog.text  # the path is for the server log only
    assert "Traceback" not in caplog.text  # a named error is one line, not a traceback


# issue 14.11: Gradio's own routes and the origin check never answer 500


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/gradio_api/call/nope", {"json": {"data": []}}),
        ("post", "/gradio_api/call/v2/nope", {"json": {}}),
        ("post", "/gradio_api/run/predict", {"json": {"data": []}}),
        ("post", "/gradio_api/api/predict", {"json": {"data": []}}),
        ("post", "/gradio_api/queue/join", {"json": {"data": [], "fn_index": -1, "session_hash": "abc"}}),
        ("post", "/gradio_api/queue/join", {"json": {"data": [], "fn_index": 999, "session_hash": "abc"}}),
        ("post", "/gradio_api/queue/join", {"json": {"data": [], "fn_index": None, "session_hash": "abc"}}),
        ("post", "/gradio_api/queue/join", {"json": {"data": [], "fn_index": True, "session_hash": "abc"}}),
        ("post", "/gradio_api/queue/join", {"json": ["not", "an", "object"]}),
        ("get", "/", {"headers": {"X-Forwarded-Host": "javascript:alert(1)//"}}),
        ("get", "/config", {"headers": {"X-Forwarded-Host": "[::1"}}),
        ("get", "/", {"headers": {"X-Gradio-Server": "http://[bad"}}),
        ("get", "/api/health", {"headers": {"Host": "[::1", "Origin": "http://127.0.0.1:8000"}}),
        ("get", "/", {"headers": {"Host": "[::1"}}),
        ("get", "/", {"headers": {"Host": "a b"}}),
    ],
)
def test_bad_calls_of_gradio_routes_get_a_4xx_not_a_500(service, settings, method, path, kwargs):
    with TestClient(create_app(settings, service), raise_server_exceptions=False) as client:
        response = getattr(client, method)(path, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    assert_clean(response.text)
    assert response.json()["error"]


def test_private_chat_events_are_not_callable_by_name(client):
    response = client.post("/gradio_api/call/respond", json={"data": ["q", [], None, "zh"]})
    assert response.status_code == 404 and "ask" in response.json()["error"]


# issue 14.12: strict types with clear messages; {"error": …} for every status


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "q", "top_k": "5"}, "top_k"),
        ({"question": "q", "top_k": True}, "top_k"),
        ({"question": "q", "top_k": 5.7}, "top_k"),
        ({"question": "q", "top_k": 5.0}, "top_k"),
        ({"question": "q", "history": "abc"}, "history"),
        ({"question": "q", "history": [1]}, "history"),
        ({"question": "q", "history": [None]}, "history"),
        ({"question": 12}, "question"),
        ({"question": ["q"]}, "question"),
        ({"question": None}, "question"),
        ([QUESTION], "body"),
    ],
)
def test_rest_types_are_strict(client, body, field):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    message = response.json()["error"]
    assert field in message and "Input should" not in message, message


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/api/nope", {}, 404),
        ("post", "/api/nope", {"json": {}}, 404),
        ("get", "/api/ask", {}, 405),
        ("post", "/api/ask", {"content": b"{", "headers": {"content-type": "application/json"}}, 400),
        ("post", "/api/ask", {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 400),
        ("post", "/api/ask", {"content": b"question=q"}, 422),  # not sent as JSON: not an object
    ],
)
def test_every_rest_error_is_an_error_body(client, method, path, kwargs, status):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert set(response.json()) == {"error"} and response.json()["error"]


def test_openapi_documents_the_real_error_body(client):
    schema = client.get("/openapi.json").json()
    responses = schema["paths"]["/api/ask"]["post"]["responses"]
    for status in ("400", "413", "422", "503"):
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorBody"), status
    assert schema["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    ask = schema["components"]["schemas"]["AskRequest"]["properties"]
    assert ask["top_k"]["type"] == "integer" and ask["history"]["items"]["type"] == "string"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (["q", "abc", []], "top_k"),
        (["q", 5.7, []], "top_k"),
        (["q", True, []], "top_k"),
        (["q", 0, []], "top_k"),
        ([123, 5, []], "question"),
        ([None, 5, []], "question"),
        (["q", 5, "abc"], "history"),
        (["q", 5, [1, 2]], "history"),
    ],
)
def test_gradio_ask_endpoint_types_are_strict(client, gradio_call, data, expected):
    event, payload = gradio_call(client, "ask", data)
    assert event == "error"
    message = payload["error"]
    assert expected in message, message
    assert "invalid literal" not in message and "attribute" not in message and "empty" not in message


@pytest.mark.parametrize(
    "body",
    [
        {"data": ["\ud800", 5, []]},
        {"data": ["q", 5, ["\udfff"]]},
        {"question": "\ud800"},  # Gradio's own validation error echoed it, and failed (500)
        {"data": ["q"], "\ud800": 1},
    ],
)
def test_gradio_refuses_unpaired_surrogates_with_a_422(client, body):
    response = client.post(
        "/gradio_api/call/ask", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "surrogate" in response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": NaN}',
        b'{"question": NaN}',
        b'{"data": [Infinity, 5, []]}',
        b'{"data": [1e400]}',
        b"[" * 5000,
    ],
)
def test_gradio_refuses_json_that_is_not_standard(client, body):
    response = client.post("/gradio_api/call/ask", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]


def test_gradio_ask_endpoint_answers_a_good_call(client, gradio_call):
    event, payload = gradio_call(client, "ask", [QUESTION, 3, []])
    assert event == "complete" and payload[0]["question"] == QUESTION and len(payload[0]["passages"]) <= 3


def test_the_pages_own_direct_calls_still_pass(service, settings, chat_events):
    """The page runs its unqueued events as POST /gradio_api/run/predict with an fn_index."""
    app = create_app(settings, service)
    ids = chat_events(app)
    with TestClient(app) as client:
        body = {"data": [None], "event_data": None, "fn_index": ids["on_boot"], "session_hash": "s1"}
        response = client.post("/gradio_api/run/predict", json=body)
        assert response.status_code == 200 and len(response.json()["data"]) == 13  # its outputs
        for fn_index in (ids["finish"], 999, -1, None, "0"):  # queued events only through the queue
            refused = client.post("/gradio_api/run/predict", json={**body, "fn_index": fn_index})
            assert refused.status_code in (404, 422) and refused.json()["error"], fn_index


@pytest.mark.parametrize(
    ("event", "data", "event_data"),
    [
        ("on_like", [None, None], None),
        ("on_like", [None, None], {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}),
        ("on_like", [None, None], [1, 2]),
        ("on_like", [], {"index": 1, "value": "x", "liked": True}),
        ("start", ["q", "not a chat", None, None], None),
        ("start", [{"x": 1}, [{"role": "x"}], None, None], None),
        ("on_reason", [["x"], None, None], None),
        ("on_boot", [12], None),
    ],
)
def test_a_direct_event_with_bad_data_is_a_4xx(service, settings, chat_events, event, data, event_data):
    """Issue 14.11: Gradio answers 500 when an unqueued event fails, even on the data sent."""
    app = create_app(settings, service)
    ids = chat_events(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        body = {"data": data, "event_data": event_data, "fn_index": ids[event], "session_hash": "s1"}
        response = client.post("/gradio_api/run/predict", json=body)
    assert response.status_code < 500, response.text[:300]
    assert_clean(response.text, "/etc/passwd")
