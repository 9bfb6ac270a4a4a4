"""The REST API, the Gradio API, the origin policy and the embedding files, on one app (fake embedder)."""

from __future__ import annotations

import logging
import threading

import pytest
from fastapi.testclient import TestClient

from index.build import build_index
from qa import load_bot
from ui.app import create_app
from ui.service import BotService
from ui.settings import Settings
from ui.widget import GRADIO_JS

HOST = "http://127.0.0.1:8000"  # an allowed site
EVIL = "http://evil.example"  # a site that is not


# The tests only read the bot and the app, so the module shares one of each (about 1 s per app saved).
@pytest.fixture(scope="module")
def service(sample_corpus, tmp_path_factory, module_fake_embedder):
    index_dir = tmp_path_factory.mktemp("api") / "idx"
    build_index(sample_corpus, index_dir, embedder=module_fake_embedder, progress=False)
    return BotService(index_dir, loader=lambda: load_bot(index_dir, embedder=module_fake_embedder)).start(
        background=False
    )


@pytest.fixture(scope="module")
def settings(service):
    folder = service.index_dir.parent
    return Settings(index=service.index_dir, feedback_log=folder / "feedback.jsonl", allowed_origins=(HOST,))


@pytest.fixture(scope="module")
def client(service, settings):
    with TestClient(create_app(settings, service)) as test_client:
        yield test_client


def test_ask_returns_the_answer_json(client):
    response = client.post(
        "/api/ask", json={"question": "2024年中国与中亚五国的贸易额达到多少？", "top_k": 3}
    )
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"question", "answer", "abstained", "passages"}
    assert len(data["passages"]) <= 3 and data["passages"][0]["citation"]["source"] == "人民日报"


@pytest.mark.parametrize(
    "body",
    [
        {"question": ""},
        {"question": "   "},
        {"question": "问" * 5000},
        {"question": "q", "top_k": 0},
        {"top_k": 3},
        {"question": 12},
    ],
)
def test_bad_requests_get_422_with_a_message(client, body):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    assert response.json()["error"]


def test_oversized_body_gets_413(client):
    response = client.post(
        "/api/ask",
        content=b'{"question": "' + b"a" * 200_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]


def test_health_reports_the_index(client):
    data = client.get("/api/health").json()
    assert data["index_loaded"] and data["articles"] == 2 and data["chunks"] > 10


def test_503_while_the_index_is_loading(tmp_path):
    gate = threading.Event()
    slow = BotService(loader=lambda: gate.wait(30) and None).start(background=True)
    with TestClient(create_app(Settings(), slow)) as test_client:
        assert test_client.post("/api/ask", json={"question": "问题"}).status_code == 503
        assert test_client.get("/api/health").status_code == 503
    gate.set()


def test_openapi_docs_are_served_without_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "https://" not in page.text.replace("https://fastapi", "")
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]


def test_cors_answers_an_allowed_origin_only(client):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = client.options("/api/ask", headers={"Origin": HOST, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == HOST
    denied = client.options("/api/ask", headers={"Origin": EVIL, **preflight})
    assert denied.status_code == 403 and "access-control-allow-origin" not in denied.headers
    ask = client.post("/api/ask", json={"question": "峰会在哪里举行？"}, headers={"Origin": HOST})
    assert ask.status_code == 200 and ask.headers["access-control-allow-origin"] == HOST


def test_a_foreign_origin_is_refused_everywhere_but_widget_js(client):
    for method, path in [
        ("post", "/api/ask"),
        ("get", "/config"),
        ("get", "/gradio.js"),
        ("get", "/"),
        ("post", "/gradio_api/queue/join"),
    ]:
        response = getattr(client, method)(
            path, headers={"Origin": EVIL}, **({"json": {}} if method == "post" else {})
        )
        assert response.status_code == 403, path
        assert "allowed_origins" in response.json()["error"]
    assert client.get("/widget.js", headers={"Origin": EVIL}).status_code == 200
    assert (
        client.post("/api/ask", json={"question": "峰会在哪里举行？"}, headers={"Origin": "null"}).status_code
        == 403
    )


def test_same_origin_requests_pass(client):
    own = "http://testserver"
    assert (
        client.post("/api/ask", json={"question": "峰会在哪里举行？"}, headers={"Origin": own}).status_code
        == 200
    )
    assert client.get("/config", headers={"Origin": own}).status_code == 200


def test_pages_may_be_framed_by_self_and_allowed_origins_only(client):
    for path in ("/", "/embed", "/docs"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == f"frame-ancestors 'self' {HOST}", path
    assert "content-security-policy" not in client.get("/api/health").headers


def test_default_policy_is_same_origin_only_and_says_how_to_allow_a_site(service, caplog):
    with caplog.at_level(logging.INFO, logger="wenda.ui"):
        app = create_app(Settings(), service)
    assert "--allowed-origins" in caplog.text and "only this app's own pages" in caplog.text
    with TestClient(app) as test_client:
        page = test_client.get("/")
        assert page.headers["content-security-policy"] == "frame-ancestors 'self'"
        assert page.headers["x-frame-options"] == "SAMEORIGIN"
        assert test_client.get("/config", headers={"Origin": HOST}).status_code == 403


def test_any_origin_when_asked_for(service):
    with TestClient(create_app(Settings(allowed_origins=("*",)), service)) as test_client:
        assert test_client.get("/").headers["content-security-policy"] == "frame-ancestors *"
        assert (
            test_client.post(
                "/api/ask", json={"question": "峰会在哪里举行？"}, headers={"Origin": EVIL}
            ).status_code
            == 200
        )


def test_embed_page_shows_the_three_snippets_for_this_address(client):
    page = client.get("/embed").text
    app = "http://testserver"  # the address the test client reaches the server on
    assert f"{app}/widget.js" in page  # the widget snippet, escaped, and the live widget
    assert f'<script src="{app}/widget.js" data-title=' in page
    assert f"&lt;iframe src=&quot;{app}/?lang=zh&quot;" in page
    assert f"&lt;script type=&quot;module&quot; src=&quot;{app}/gradio.js&quot;" in page
    assert f"&lt;gradio-app src=&quot;{app}/?lang=zh&quot;" in page
    assert "--allowed-origins" in page
    assert client.get("/wenda-static/page.css").status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", 'x"><script>alert(1)</script>', "127.0.0.1:7860.evil.example", "127.0.0.1:6666"]
)
def test_embed_snippets_never_copy_a_host_header(client, host):
    """Issue 14.7: the snippets came from the request's Host, and /embed had no Cache-Control."""
    response = client.get("/embed", headers={"Host": host})
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert host not in response.text and "<script>alert(1)" not in response.text
        assert 'src="http://testserver/widget.js"' in response.text  # the address it was reached on
        assert response.headers["cache-control"] == "no-store"


def test_embed_snippets_use_the_public_url(service, tmp_path):
    settings = Settings(index=tmp_path / "idx", public_url="https://qa.example.com/wenda/")
    with TestClient(create_app(settings, service)) as test_client:
        page = test_client.get("/embed", headers={"Host": "evil.example"}).text
    assert '<script src="https://qa.example.com/wenda/widget.js"' in page and "evil.example" not in page


def test_gradio_js_is_served_by_the_app_and_its_build_too(client):
    response = client.get("/gradio.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert response.content.endswith(GRADIO_JS.read_bytes())  # Gradio's loader, after the boot script
    assert response.text.index("navigator") < response.text.index('import("./assets/')
    entry = response.text.rsplit('import("', 1)[1].split('"')[0]  # import("./assets/index-….js")
    assert entry.startswith("./assets/") and client.get(entry[1:]).status_code == 200


def test_the_chat_page_starts_with_the_boot_script(client):
    page = client.get("/").text
    assert page.index("__wenda") < page.index('<script type="module"')  # before Gradio's own scripts
    assert int(client.get("/").headers["content-length"]) == len(client.get("/").content)


def test_section_route_returns_the_section_of_a_passage(client, service):
    passage = client.post("/api/ask", json={"question": "2024年中国与中亚五国的贸易额达到多少？"}).json()[
        "passages"
    ][0]
    where = {k: passage["citation"][k] for k in ("article_id", "start", "end")}
    data = client.get("/api/section", params=where).json()
    article = service.bot.index.articles[where["article_id"]]
    assert article.text[data["start"] : data["end"]] == data["text"]
    assert data["start"] <= where["start"] and where["end"] <= data["end"]
    lo, hi = data["passage"]
    assert data["text"][lo:hi] == passage["text"]
    section = article.section_at(where["start"])
    assert data["heading"] == (section.heading if section else None)
    missing = client.get("/api/section", params={"article_id": "nope", "start": 0, "end": 5})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    outside = client.get("/api/section", params={**where, "end": len(article.text) + 1})
    assert outside.status_code == 404
    assert client.get("/api/section", params={"article_id": "x", "start": -1, "end": 5}).status_code == 422


def test_widget_js_is_served(client):
    response = client.get("/widget.js")
    assert response.status_code == 200 and "attachShadow" in response.text


def test_no_server_path_is_placed_in_a_page(client, settings):
    secrets = [str(settings.index), str(settings.feedback_log), str(settings.index.parent)]
    for path in ("/", "/config", "/embed", "/widget.js", "/gradio_api/info"):
        body = client.get(path).text
        assert not any(s in body for s in secrets), path


def test_gradio_client_gets_an_answer(service, settings, serve):
    from gradio_client import Client

    server = serve(create_app(settings, service))
    client = Client(server.url + "/", verbose=False)
    try:
        result = client.predict("2024年中国与中亚五国的贸易额达到多少？", 3, [], api_name="/ask")
    finally:
        client.close()  # stop its heartbeat thread
    assert result["passages"] and result["question"].startswith("2024年")


def test_concurrency_setting_reaches_the_chat_queue(service):
    app = create_app(Settings(concurrency=3), service)
    blocks = next(r.app.get_blocks() for r in app.routes if hasattr(getattr(r, "app", None), "get_blocks"))
    assert blocks._queue.default_concurrency_limit == 3
    chat_events = [fn for fn in blocks.fns.values() if fn.name in ("respond", "ask")]
    assert chat_events and all(fn.concurrency_limit == 3 for fn in chat_events)
