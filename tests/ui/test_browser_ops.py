"""Operating the server, in real headless Chromium (Debian's, via Playwright; never downloaded).

- First run: `python -m ui serve` with an empty index cache listens at once; the browser sees the
  start page with its steps and progress bar, which turns into the chat by itself (the test never
  reloads), and the terminal's one ready line comes with no library noise before it.
- The admin page: sign in with the token (kept in sessionStorage, sent as a header), upload good
  and bad files, remove an article, read the feedback log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from index.build import build_index
from index.settings import cache_dir
from qa import load_bot
from ui.admin import UPLOAD_LIMIT
from ui.app import create_app
from ui.service import BotService
from ui.settings import Settings

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TOKEN = "browser-admin-token-0123456789"
NEWS = "# 伽马汽车\n\n伽马公司今天在杭州发布了新型号的电动汽车，续航里程达到八百公里。\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def browser() -> Iterator:
    path = os.environ.get("WENDA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail("Chromium not found: run `make browser-deps` or set WENDA_CHROMIUM", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_first_run_shows_its_progress_then_the_chat_without_a_reload(browser, tmp_path):
    from playwright.sync_api import expect

    cache = tmp_path / "cache"
    cache.mkdir()
    if (cache_dir() / "models").is_dir():  # the converted model may stay; the index must be built now
        shutil.copytree(cache_dir() / "models", cache / "models")
    assert not (cache / "index").exists()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "WENDA_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for name in ("WENDA_INDEX_DIR", "WENDA_CONFIG", "WENDA_ADMIN_TOKEN_FILE"):
        env.pop(name, None)
    terminal = tmp_path / "terminal.txt"
    with terminal.open("w", encoding="utf-8") as out:
        started = time.time()
        server = subprocess.Popen(
            [sys.executable, "-m", "ui", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            listening = _wait_listening(url, server, 120) - started
            context = browser.new_context(locale="zh-CN")
            page = context.new_page()
            requests: list[str] = []
            navigations: list[str] = []
            context.on("request", lambda request: requests.append(request.url))
            page.on(
                "framenavigated",
                lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
            )
            page.goto(url + "/")
            expect(page.locator("#wd-progress")).to_be_visible()
            seen = _watch_progress(page, timeout=900)
            expect(page.locator("#wd-chatbot")).to_be_visible(timeout=120_000)
            ready = time.time() - started
            page.locator("#wd-input textarea").fill("2024年中国与中亚五国的贸易额达到多少？")
            page.locator("#wd-send").click()
            expect(page.locator("#wd-chatbot .wd-answer").first).to_contain_text("948亿美元", timeout=120_000)
            context.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    text = terminal.read_text(encoding="utf-8")
    print(f"\nlistening after {listening:.1f} s, chat ready after {ready:.1f} s; progress seen: {seen}")
    assert listening < 30  # the port opens long before the model and the index are ready
    steps = {name for snapshot in seen["steps"] for name in snapshot}
    assert {"model", "embed", "load"} <= steps
    assert len(seen["values"]) >= 2 and seen["values"] == sorted(seen["values"])  # the bar moved forward
    assert navigations.count(url + "/") == 2  # our goto, then the page's own switch to the chat
    assert {f"{p.scheme}://{p.netloc}" for p in map(urlsplit, requests)} == {url}
    ready_lines = [line for line in text.splitlines() if line.startswith("Wenda ready:")]
    assert ready_lines == [f"Wenda ready: {url} (index {cache / 'index' / 'sample'}, 2 articles, 48 chunks)"]
    before_ready = text.split("Wenda ready:")[0]
    for noise in ("Could not load", "ModuleNotFoundError", "DEBUG", "Traceback", "Uvicorn running"):
        assert noise not in before_ready, (noise, text)


def _wait_listening(url: str, server: subprocess.Popen, timeout: float) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            httpx.get(url + "/api/status", timeout=1)
            return time.time()
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server never listened")


def _watch_progress(page, timeout: float) -> dict:
    """Poll the start page until it has become the chat; return the step states and bar values seen."""
    seen: dict[str, list] = {"steps": [], "values": []}
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if page.locator("#wd-chatbot").count():
                return seen
            state = page.evaluate(
                """() => {
                  const bar = document.getElementById('wd-progress-bar');
                  if (!bar) return null;
                  const steps = {};
                  document.querySelectorAll('#wd-progress-steps li').forEach(li => steps[li.dataset.step] = li.className);
                  return {steps, value: Number(bar.getAttribute('aria-valuenow') || 0)};
                }"""
            )
        except Exception:  # noqa: BLE001 - the page is navigating to the chat
            state = None
        if state:
            if not seen["steps"] or seen["steps"][-1] != state["steps"]:
                seen["steps"].append(state["steps"])
            if not seen["values"] or seen["values"][-1] != state["value"]:
                seen["values"].append(state["value"])
        page.wait_for_timeout(150)
    raise AssertionError(f"the start page did not become the chat: {seen}")


@pytest.fixture
def admin_site(serve, tmp_path, sample_corpus, fake_embedder):
    index_dir = tmp_path / "idx"
    build_index(sample_corpus, index_dir, embedder=fake_embedder, progress=False)
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    feedback = tmp_path / "feedback.jsonl"
    entry = {
        "time": "2026-06-30T10:00:00",
        "verdict": "down",
        "question": "峰会在哪里举行？",
        "answer": "峰会在阿斯塔纳举行。",
        "abstained": False,
        "passages": [
            {
                "rank": 1,
                "chunk_id": "none",
                "article_id": "a",
                "article_title": "峰会报道",
                "paragraph": 2,
                "score": 0.8,
            }
        ],
    }
    feedback.write_text(json.dumps(entry, ensure_ascii=False) + "\n", encoding="utf-8")
    service = BotService(
        index_dir,
        loader=lambda: load_bot(index_dir, embedder=fake_embedder, progress=False),
        poll_seconds=0.2,
    ).start(background=False)
    settings = Settings(index=index_dir, admin_token_file=token, feedback_log=feedback)
    yield serve(create_app(settings, service)).url
    service.close()


def test_admin_page_signs_in_uploads_checks_and_removes(browser, admin_site, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    requests: list[tuple[str, str | None]] = []
    context.on("request", lambda r: requests.append((r.url, r.headers.get("authorization"))))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.goto(admin_site + "/admin")
    expect(page.locator("#login")).to_be_visible()
    assert TOKEN not in page.content()

    page.locator("#token").fill("wrong-token-wrong-token")
    page.locator("#login-button").click()
    expect(page.locator("#login-error")).to_contain_text("wrong or missing token")
    page.locator("#token").fill(TOKEN)
    page.locator("#login-button").click()
    expect(page.locator("#console")).to_be_visible()
    rows = page.locator("#articles tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#index-info")).to_contain_text("gen-")
    expect(page.locator("#feedback .entry")).to_have_count(1)
    expect(page.locator("#feedback")).to_contain_text("峰会在哪里举行？")
    expect(page.locator("#feedback")).to_contain_text("峰会报道")

    upload = page.locator("#upload-file")
    result = page.locator("#upload-result")
    cases = [
        ({"name": "notes.pdf", "mimeType": "application/pdf", "buffer": NEWS.encode()}, "only .txt"),
        ({"name": "big.txt", "mimeType": "text/plain", "buffer": b"a" * (UPLOAD_LIMIT + 1)}, "larger than"),
        ({"name": "picture.txt", "mimeType": "text/plain", "buffer": PNG}, "binary"),
    ]
    for file, words in cases:
        upload.set_input_files(file)
        page.locator("#upload-button").click()
        expect(result).to_contain_text(words)
        expect(result).to_have_class("error")
    expect(rows).to_have_count(2)

    upload.set_input_files({"name": "../../gamma.md", "mimeType": "text/markdown", "buffer": NEWS.encode()})
    page.locator("#upload-button").click()
    expect(result).to_contain_text("1 added")
    expect(rows).to_have_count(3)
    expect(page.locator("#articles")).to_contain_text("伽马汽车")
    assert not (tmp_path.parent / "gamma.md").exists()
    expect(page.locator("#index-info")).to_contain_text("3")

    page.locator("#search").fill("伽马")
    page.locator("#search-form button").click()
    expect(rows).to_have_count(1)
    rows.first.locator("button.remove").click()
    expect(result).to_contain_text("1 removed")
    expect(rows).to_have_count(0)
    assert dialogs and "gamma" in dialogs[0]
    expect(page.locator("#actions")).to_contain_text("remove gamma")

    stored = page.evaluate("sessionStorage.getItem('wenda-admin-token')")
    assert stored == TOKEN and context.cookies() == []
    api_calls = [(u, a) for u, a in requests if "/admin/api/" in u]
    assert api_calls and all(a in (f"Bearer {TOKEN}", "Bearer wrong-token-wrong-token") for _, a in api_calls)
    assert all(TOKEN not in u for u, _ in requests)
    assert {f"{p.scheme}://{p.netloc}" for p in (urlsplit(u) for u, _ in requests)} == {admin_site}
    context.close()
