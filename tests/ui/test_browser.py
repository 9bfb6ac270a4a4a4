"""End to end in real headless Chromium (Debian's, driven by Playwright; never downloaded).

The app (real model, sample index) listens on one port and allows a demo host on a second
port; a third port serves the same demo pages from an origin that is not allowed. Every
request a page makes is recorded and must go to one of these loopback origins: no CDN.
Set WENDA_SCREENSHOTS=docs to write the docs screenshots (chat.png, chat-dark.png, widget-phone.png).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ui.app import create_app
from ui.demo_host import create_demo_host
from ui.service import BotService
from ui.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRADE = "2024年中国与中亚五国的贸易额达到多少？"
ATTACK = "<img src=x onerror=alert(1)> 峰会在哪里举行？"
SCREENSHOTS = os.environ.get("WENDA_SCREENSHOTS")
TIMEOUT = 60_000  # ms, for an answer (the first one warms the model up)


@dataclass
class Sites:
    app: str
    host: str
    evil: str
    feedback: Path


@pytest.fixture(scope="module")
def sites(serve_module, free_socket, sample_bot, tmp_path_factory) -> Sites:
    """The app (allowing the host), the allowed demo host, and a demo host that is not allowed."""
    app_sock, host_sock, evil_sock = free_socket(), free_socket(), free_socket()
    url = lambda sock: f"http://127.0.0.1:{sock.getsockname()[1]}"
    feedback = tmp_path_factory.mktemp("feedback") / "feedback.jsonl"
    service = BotService(loader=lambda: sample_bot).start(background=False)
    settings = Settings(allowed_origins=(url(host_sock),), feedback_log=feedback)
    app = serve_module(create_app(settings, service), app_sock)
    host = serve_module(create_demo_host(app.url), host_sock)
    evil = serve_module(create_demo_host(app.url), evil_sock)
    return Sites(app.url, host.url, evil.url, feedback)


@dataclass
class Visit:
    page: object
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    statuses: dict[str, int | str] = field(default_factory=dict)  # url: HTTP status, or the failure

    def origins(self) -> set[str]:
        return {
            f"{p.scheme}://{p.netloc}" for p in map(urlsplit, self.requests) if p.scheme in ("http", "https")
        }

    def non_network(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u).scheme not in ("http", "https", "data", "blob")]


@contextmanager
def visit(
    browser, clipboard_origin: str | None = None, width: int = 1280, height: int = 900
) -> Iterator[Visit]:
    """A fresh browser context and page that records requests, dialogs and console messages."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=1, locale="zh-CN"
    )
    if clipboard_origin:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=clipboard_origin)
    page = context.new_page()
    record = Visit(page)
    context.on("request", lambda request: record.requests.append(request.url))
    page.on("dialog", lambda dialog: (record.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: record.console.append(message.text))
    context.on(
        "response", lambda response: record.statuses.__setitem__(response.url.split("?")[0], response.status)
    )
    context.on(
        "requestfailed",
        lambda request: record.statuses.__setitem__(request.url.split("?")[0], request.failure or "failed"),
    )
    try:
        yield record
    finally:
        context.close()


def ask(chat, question: str) -> object:
    """Type a question into the chat (a page or frame locator) and return the reply that comes back."""
    from playwright.sync_api import expect

    replies = chat.locator("#wd-chatbot .wd-answer, #wd-chatbot .wd-error")
    before = replies.count()
    chat.locator("#wd-input textarea").fill(question)
    chat.locator("#wd-send").click()
    expect(replies).to_have_count(before + 1, timeout=TIMEOUT)
    return replies.nth(before)


def like_button(page) -> object:
    """The thumbs-up of the last reply (Gradio labels it in the browser's language)."""
    return page.locator("#wd-chatbot").get_by_role("button", name=re.compile(r"^(Like|点赞|赞)$")).last


def wait_for_lines(path: Path, timeout: float = 10) -> list[str]:
    """The lines of a file, once it has some."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text(encoding="utf-8").strip():
            return path.read_text(encoding="utf-8").splitlines()
        time.sleep(0.1)
    raise AssertionError(f"nothing was written to {path}")


def eventually(page, check, what: str, timeout: float = 10) -> None:
    """Wait until check() is true; the page's events (dialogs, console, requests) keep arriving meanwhile."""
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def refused(record: Visit) -> None:
    """Wait for Chromium's console report that a frame was refused by frame-ancestors."""
    eventually(
        record.page,
        lambda: any("frame-ancestors" in line for line in record.console),
        f"the frame to be refused: {record.console}",
    )


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name))


def test_widget_on_another_origin_answers_with_a_highlighted_citation(browser, sites):
    from playwright.sync_api import expect

    with visit(browser) as record:
        page = record.page
        page.goto(sites.host + "/")
        button = page.locator("#wenda-widget .button")
        assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(200, 22, 29)"  # data-color
        box = button.bounding_box()
        assert box["x"] > 1280 / 2 and box["y"] > 900 / 2  # data-position="right", bottom corner
        assert page.locator("#wenda-widget iframe").count() == 0  # the chat loads on first open only
        button.click()
        expect(page.locator("#wenda-widget .title")).to_have_text("人民日报 · 新闻问答")  # data-title
        frame = page.frame_locator("#wenda-widget iframe")
        expect(frame.locator("#wd-input textarea")).to_be_visible(timeout=TIMEOUT)
        expect(frame.locator("#wd-header")).to_be_hidden()  # compact: the panel has its own title
        reply = ask(frame, TRADE)
        expect(reply.locator(".wd-line mark")).to_contain_text("948亿美元")
        cited = reply.locator(".wd-passage mark").first
        expect(cited).to_contain_text("948亿美元")
        expect(cited).to_be_visible()
        expect(reply.locator(".wd-group .wd-article").first).to_contain_text("人民日报")
        chat_frame = next(f for f in page.frames if f.url.startswith(sites.app))
        assert urlsplit(chat_frame.url).query == "lang=zh&compact=1&theme=auto&color=%23c8161d"
        reply.locator(".wd-passage").first.scroll_into_view_if_needed()

        attack = ask(frame, ATTACK)
        expect(attack.locator(".wd-line, .wd-abstain")).to_be_in_viewport()  # shown from its answer line
        expect(frame.locator("#wd-chatbot")).to_contain_text("<img src=x onerror=alert(1)>")
        assert frame.locator("#wd-chatbot img").count() == 0 and attack.locator("img").count() == 0
        page.wait_for_timeout(500)
        assert record.dialogs == []
        chat_frame.evaluate("setTimeout(() => alert('probe'), 0)")  # an alert in the frame would be seen
        eventually(page, lambda: record.dialogs, "the probe alert")
        assert record.dialogs == ["probe"]
    assert record.origins() <= {sites.app, sites.host} and not record.non_network(), record.requests


def test_an_origin_not_allowed_cannot_frame_the_chat(browser, sites):
    from playwright.sync_api import expect

    csp = httpx.get(sites.app + "/").headers["content-security-policy"]
    assert csp == f"frame-ancestors 'self' {sites.host}" and sites.evil not in csp
    with visit(browser) as record:
        page = record.page
        page.goto(sites.host + "/iframe")  # allowed: the chat shows
        expect(page.frame_locator("iframe").locator("#wd-input textarea")).to_be_visible(timeout=TIMEOUT)
        record.console.clear()
        page.goto(sites.evil + "/iframe")  # not allowed: Chromium refuses the frame
        refused(record)
        frame = next(f for f in page.frames if f is not page.main_frame)
        assert frame.locator("#wd-chatbot").count() == 0 and frame.locator("gradio-app").count() == 0

        page.goto(sites.evil + "/component")  # nor can it load the chat as a web component
        loader = sites.app + "/gradio.js"
        eventually(page, lambda: loader in record.statuses, "gradio.js to be requested")
        assert record.statuses[loader] not in (200, 304), record.statuses  # 403, seen as a CORS failure
        assert page.locator("#wd-chatbot").count() == 0

        record.console.clear()
        page.goto(sites.evil + "/")  # the widget button shows, but the chat in its panel is refused
        page.locator("#wenda-widget .button").click()
        refused(record)
        widget = next(f for f in page.frames if f is not page.main_frame)
        assert widget.locator("#wd-chatbot").count() == 0
    assert record.origins() <= {sites.app, sites.host, sites.evil}, record.requests


def test_gradio_web_component_works_offline_on_the_allowed_host(browser, sites):
    from playwright.sync_api import expect

    with visit(browser) as record:
        page = record.page
        page.goto(sites.host + "/component")
        reply = ask(page, TRADE)  # <gradio-app> renders into the host page itself
        expect(reply.locator(".wd-passage mark").first).to_contain_text("948亿美元")
    assert record.origins() <= {sites.app, sites.host}, record.requests
    assert any(u.startswith(sites.app + "/gradio.js") for u in record.requests)


def test_chat_page_cites_copies_logs_feedback_and_clears(browser, sites):
    from playwright.sync_api import expect

    with visit(browser, clipboard_origin=sites.app, width=1200, height=1000) as record:
        page = record.page
        page.goto(sites.app + "/")
        page.locator(".wd-example").filter(has_text=TRADE).click()  # an example question asks it
        expect(page.locator("#wd-chatbot .wd-answer")).to_have_count(1, timeout=TIMEOUT)
        reply = page.locator("#wd-chatbot .wd-answer").first
        passage = reply.locator(".wd-passage").first
        expect(passage.locator(".wd-text mark").first).to_contain_text("948亿美元")
        expect(reply.locator(".wd-score").first).to_contain_text("相关度")
        page.locator("#wd-chatbot .wd-line").first.scroll_into_view_if_needed()
        screenshot(page, "chat.png")

        passage.locator(".wd-copy").click()
        expect(passage.locator(".wd-copy")).to_have_text("已复制")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("《") and "人民日报" in copied and "第" in copied
        more = passage.locator(".wd-more")
        if more.count():  # a long passage: an excerpt, and the whole text one click away
            expect(passage.locator(".wd-excerpt")).to_be_visible()
            more.locator("summary").click()
            expect(more.locator(".wd-text mark")).to_contain_text("948亿美元")
            expect(passage.locator(".wd-excerpt")).to_be_hidden()

        like_button(page).click()
        lines = wait_for_lines(sites.feedback)
        entry = json.loads(lines[-1])
        assert entry["verdict"] == "up" and entry["question"] == TRADE
        assert entry["passages"][0]["rank"] == 1 and entry["passages"][0]["chunk_id"]

        page.locator("#wd-clear").click()
        expect(page.locator("#wd-chatbot .wd-answer")).to_have_count(0)
    assert record.origins() == {sites.app}, record.requests


def test_english_interface_on_request(browser, sites):
    from playwright.sync_api import expect

    with visit(browser) as record:
        page = record.page
        page.goto(sites.app + "/?lang=en")
        expect(page.locator("#wd-send")).to_have_text("Ask")
        expect(page.locator("#wd-header")).to_contain_text("News Q&A")
        reply = ask(page, TRADE)
        expect(reply.locator(".wd-copy").first).to_have_text("Copy citation")
    assert record.origins() == {sites.app}, record.requests


@pytest.fixture(scope="module")
def markup_app(serve_module) -> str:
    """An app whose only passage, title and section are made of markup (no model needed)."""
    citation = {
        "article_id": "x",
        "article_title": "<script>alert('t')</script>标题",
        "section": "[点我](javascript:alert(1))",
        "paragraph": 1,
        "source": "<b>来源</b>",
        "date": "6月30日",
        "chunk_id": "x1",
        "start": 0,
        "end": 10,
        "url": None,
    }
    text = (
        "正文<img src=x onerror=alert('p')>**粗体**[链接](http://example.com)<script>alert('s')</script>结尾"
    )
    # another paper printing it, its title and source markup too
    printing = {
        **citation,
        "article_id": "y",
        "article_title": "<script>alert('a')</script>转载",
        "source": "<i>乙报</i>",
    }

    class Bot:
        def ask(self, question: str, top_k: int = 5, history=None):
            passage = {
                "rank": 1,
                "text": text,
                "score": 0.5,
                "highlights": [[0, 12]],
                "citation": citation,
                "also_in": [printing],
                "also_in_total": 1,
            }
            answer = {"question": question, "answer": text, "abstained": False, "passages": [passage]}
            return type("Answer", (), {"to_dict": lambda self: answer})()

    service = BotService(loader=Bot).start(background=False)
    return serve_module(create_app(Settings(examples=()), service)).url


def test_markup_in_passages_citations_and_questions_shows_as_text(browser, markup_app):
    from playwright.sync_api import expect

    with visit(browser) as record:
        page = record.page
        page.goto(markup_app + "/")
        reply = ask(page, "<script>alert('q')</script>[x](javascript:alert(2))")
        expect(reply.locator(".wd-text").first).to_contain_text(
            "<img src=x onerror=alert('p')>**粗体**[链接](http://example.com)"
        )
        expect(reply.locator(".wd-title")).to_contain_text("<script>alert('t')</script>标题")
        expect(reply.locator(".wd-meta")).to_contain_text("[点我](javascript:alert(1))")
        expect(reply.locator(".wd-also")).to_have_text(
            "亦见于：<i>乙报</i> 6月30日《<script>alert('a')</script>转载》"
        )
        expect(page.locator("#wd-chatbot")).to_contain_text(
            "<script>alert('q')</script>[x](javascript:alert(2))"
        )
        chatbot = page.locator("#wd-chatbot")
        assert chatbot.locator("img, a, script, b, i, strong, em").count() == 0
        page.wait_for_timeout(500)
    assert record.dialogs == []
    assert record.origins() == {markup_app}, record.requests


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_real_answers_read_well_in_both_themes(browser, sites, theme):
    """The sample corpus's real answers pass axe-core (contrast included) on the page, light and dark."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    with visit(browser, width=1280, height=900) as record:
        page = record.page
        page.goto(f"{sites.app}/?theme={theme}")
        reply = ask(page, TRADE)
        expect(reply.locator(".wd-line mark")).to_contain_text("948亿美元")
        assert page.evaluate("document.body.classList.contains('dark')") is (theme == "dark")
        page.locator("#wd-chatbot .wd-line").first.scroll_into_view_if_needed()
        page.wait_for_timeout(600)  # the smooth scroll to the reply
        screenshot(page, "chat.png" if theme == "light" else "chat-dark.png")
        for fold in reply.locator("details").all():
            fold.evaluate("d => { d.open = true; }")
        violations = Axe().run(page).response["violations"]
        serious = [
            (v["id"], [n["target"] for n in v["nodes"]][:3])
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == []
    assert record.origins() == {sites.app}, record.requests


def test_widget_on_a_phone_fills_the_screen(browser, sites):
    from playwright.sync_api import expect

    with visit(browser, width=390, height=844) as record:
        page = record.page
        page.goto(sites.host + "/")
        page.locator("#wenda-widget .button").click()
        panel = page.locator("#wenda-widget .panel")
        frame = page.frame_locator("#wenda-widget iframe")
        expect(frame.locator("#wd-input textarea")).to_be_focused(timeout=TIMEOUT)
        assert panel.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
        reply = ask(frame, TRADE)
        expect(reply.locator(".wd-line mark")).to_contain_text("948亿美元")
        page.wait_for_timeout(600)
        screenshot(page, "widget-phone.png")
    assert record.origins() <= {sites.app, sites.host}, record.requests
