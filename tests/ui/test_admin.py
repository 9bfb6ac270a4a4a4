"""The admin API (fake embedder): off without a token file, 401/429 for bad tokens, uploads checked by
name, extension, size and content, removal, listing, feedback; every write is a new generation served at once."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.build import build_index
from index.store import live_generation
from qa import load_bot
from ui.admin import UPLOAD_LIMIT, safe_name
from ui.app import create_app
from ui.service import BotService
from ui.settings import Settings, SettingsError, read_admin_token

TOKEN = "s3cret-admin-token-0123456789"
NEWS = "# 伽马汽车\n\n伽马公司今天在杭州发布了新型号的电动汽车，续航里程达到八百公里。\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)) * 4


@pytest.fixture
def index_dir(tmp_path, sample_corpus, fake_embedder) -> Path:
    target = tmp_path / "idx"
    build_index(sample_corpus, target, embedder=fake_embedder, progress=False)
    return target


@pytest.fixture
def token_file(tmp_path) -> Path:
    path = tmp_path / "admin-token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _client(index_dir: Path, embedder, settings: Settings):
    service = BotService(
        index_dir, loader=lambda: load_bot(index_dir, embedder=embedder, progress=False), poll_seconds=0.2
    ).start(background=False)
    return service, TestClient(create_app(settings, service))


@pytest.fixture
def admin(index_dir, fake_embedder, token_file, tmp_path):
    feedback = tmp_path / "feedback.jsonl"
    settings = Settings(index=index_dir, admin_token_file=token_file, feedback_log=feedback)
    service, client = _client(index_dir, fake_embedder, settings)
    with client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield client
    service.close()


def _upload(client, name: str, data: bytes, **headers):
    return client.post(
        "/admin/api/upload",
        params={"name": name},
        content=data,
        headers={"content-type": "application/octet-stream", **headers},
    )


def test_no_token_file_means_no_admin_page(index_dir, fake_embedder):
    service, client = _client(index_dir, fake_embedder, Settings(index=index_dir))
    with client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for path in ("/admin", "/admin/admin.js", "/admin/api/overview", "/admin/api/articles"):
            assert client.get(path, headers=auth).status_code == 404, path
        assert _upload(client, "a.txt", b"text", **auth).status_code == 404
        assert client.post("/admin/api/remove", json={"id": "x"}, headers=auth).status_code == 404
    service.close()


def test_wrong_or_missing_tokens_get_401_then_429(admin, caplog):
    with caplog.at_level(logging.WARNING, logger="wenda.admin"):
        assert admin.get("/admin/api/overview", headers={"Authorization": ""}).status_code == 401
        response = admin.get("/admin/api/overview", headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
        assert response.json() == {"error": "admin token missing or wrong"}
        assert _upload(admin, "a.md", NEWS.encode(), Authorization=f"Basic {TOKEN}").status_code == 401
    assert sum("refused: wrong or missing token" in r.getMessage() for r in caplog.records) == 3
    for _ in range(7):
        assert admin.get("/admin/api/articles", headers={"Authorization": "Bearer nope"}).status_code == 401
    limited = admin.get("/admin/api/overview")  # even the right token waits once a client is throttled
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


def test_the_page_and_its_files_carry_no_token(admin):
    for path in ("/admin", "/admin/admin.js", "/admin/admin.css"):
        response = admin.get(path, headers={"Authorization": ""})
        assert response.status_code == 200 and TOKEN not in response.text
        assert response.headers["cache-control"] == "no-store"
    page = admin.get("/admin").text
    assert 'src="/admin/admin.js"' in page and "https://" not in page and "http://" not in page
    assert "sessionStorage" in admin.get("/admin/admin.js").text


def test_upload_adds_an_article_served_at_once(admin, index_dir, caplog):
    before = live_generation(index_dir).name
    with caplog.at_level(logging.INFO, logger="wenda.admin"):
        response = _upload(admin, "gamma.md", NEWS.encode())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["added"] == ["gamma"] and result["articles"] == 3
    assert result["generation"] == live_generation(index_dir).name != before
    assert admin.get("/api/health").json()["generation"] == result["generation"]
    answer = admin.post("/api/ask", json={"question": "伽马公司的新车续航里程是多少？", "top_k": 1}).json()
    assert answer["passages"][0]["citation"]["article_id"] == "gamma"
    listed = admin.get("/admin/api/articles", params={"q": "伽马"}).json()
    assert listed["matched"] == 1 and listed["total"] == 3
    (row,) = listed["articles"]
    assert row["id"] == "gamma" and row["title"] == "伽马汽车" and row["chunks"] == 1 and row["added"]
    assert any("admin upload gamma.md" in r.getMessage() for r in caplog.records)
    overview = admin.get("/admin/api/overview").json()
    assert overview["job"]["ok"] is True and overview["job"]["stage"] == "write"
    assert overview["actions"][0]["action"] == "upload" and overview["actions"][0]["ok"]


def test_uploads_that_are_refused(admin, index_dir, tmp_path):
    before = live_generation(index_dir).name
    cases = [
        ("notes.pdf", NEWS.encode(), 415, "only .txt"),
        ("big.txt", b"a" * (UPLOAD_LIMIT + 1), 413, "larger than"),
        ("picture.txt", PNG, 415, "binary"),
        ("gbk.txt", NEWS.encode("gb18030"), 415, "UTF-8"),
        ("empty.md", b"  \n", 422, "empty"),
        ("..", NEWS.encode(), 422, "no usable name"),
    ]
    for name, data, status, words in cases:
        response = _upload(admin, name, data)
        assert response.status_code == status, (name, response.text)
        assert words in response.json()["error"], response.json()
    assert live_generation(index_dir).name == before  # nothing was written
    assert admin.get("/admin/api/overview").json()["health"]["articles"] == 2


def test_unreadable_article_gets_the_cli_error(admin):
    response = _upload(admin, "broken.jsonl", b'{"id": "x", "title": "t"\n')
    assert response.status_code == 422
    error = response.json()["error"]
    assert "no article could be read" in error and "broken.jsonl" in error and "wenda-upload" not in error


def test_a_path_traversal_name_becomes_a_plain_file_name(admin, index_dir, tmp_path):
    outside = tmp_path / "evil.md"
    response = _upload(admin, "../../" + outside.name, NEWS.encode())
    assert response.status_code == 200 and response.json()["added"] == ["evil"]
    assert not outside.exists() and not (index_dir.parent / outside.name).exists()
    assert safe_name("..\\..\\windows\\系统.txt") == "系统.txt"
    assert safe_name("/etc/passwd.md") == "passwd.md"
    assert safe_name("a\x00b;rm -rf $HOME.md") == "ab_rm -rf _HOME.md"


def test_remove_an_article(admin, index_dir):
    assert _upload(admin, "gamma.md", NEWS.encode()).status_code == 200
    response = admin.post("/admin/api/remove", json={"id": "gamma"})
    assert response.status_code == 200 and response.json()["removed"] == ["gamma"]
    assert admin.get("/api/health").json()["articles"] == 2
    missing = admin.post("/admin/api/remove", json={"id": "gamma"})
    assert missing.status_code == 404 and "no article 'gamma'" in missing.json()["error"]
    assert admin.post("/admin/api/remove", json={"article": 1}).status_code == 422


def test_feedback_newest_first_with_cited_passages(admin, tmp_path):
    answer = admin.post("/api/ask", json={"question": "峰会在哪里举行？", "top_k": 2}).json()
    from ui.chat import feedback_record

    log = tmp_path / "feedback.jsonl"
    entries = [
        {"time": "2026-01-01T00:00:00", "verdict": "up", **feedback_record(answer)},
        {"time": "2026-01-02T00:00:00", "verdict": "down", **feedback_record(answer), "question": "第二个"},
    ]
    log.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries) + "not json\n")
    data = admin.get("/admin/api/feedback").json()
    assert data["configured"] and [e["verdict"] for e in data["entries"]] == ["down", "up"]
    passage = data["entries"][0]["passages"][0]
    assert (
        passage["text"] == answer["passages"][0]["text"] or passage["text"] in answer["passages"][0]["text"]
    )


def test_token_file_rules(tmp_path, caplog):
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(SettingsError, match="at least 16"):
        read_admin_token(short)
    with pytest.raises(SettingsError, match="cannot be read"):
        read_admin_token(tmp_path / "missing")
    loose = tmp_path / "loose"
    loose.write_text(TOKEN)
    os.chmod(loose, 0o644)
    with caplog.at_level(logging.WARNING, logger="wenda.admin"):
        assert read_admin_token(loose) == TOKEN
    assert "chmod 600" in caplog.text


def test_admin_token_file_comes_from_flag_env_or_config(tmp_path, token_file):
    from ui.settings import load_settings

    assert load_settings(environ={"WENDA_ADMIN_TOKEN_FILE": str(token_file)}).admin_token_file == token_file
    config = tmp_path / "wenda.toml"
    config.write_text('admin_token_file = "admin-token"\n')
    assert load_settings(environ={}, config=config).admin_token_file == tmp_path / "admin-token"


def test_serve_stops_at_once_on_a_bad_token_file(tmp_path, capsys, monkeypatch):
    from ui.__main__ import main

    monkeypatch.setattr("ui.__main__._run", lambda settings: pytest.fail("the server must not start"))
    short = tmp_path / "short"
    short.write_text("abc\n")
    assert main(["serve", "--admin-token-file", str(short)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: admin token file") and err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["serve", "--admin-token", TOKEN])  # the token itself is never a flag
    err = capsys.readouterr().err
    assert "--admin-token-file FILE" in err and TOKEN not in err
