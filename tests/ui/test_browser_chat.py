"""What a reader sees and does, in real headless Chromium (Debian's, via Playwright), in light and
dark, on a desktop and a 390x844 phone, on the chat page, in the widget and in an iframe.

The app answers from a small fake bot (no model: fast and deterministic) that waits a moment
before each answer, so the pending state can be seen; a demo host on a second port embeds it.
Each reader journey covers: theme and language, the settings' examples and placeholder, inline
validation and the counter, the pending state, supporting passages and the folded others,
article links, a passage's whole section, feedback with a reason and its acknowledgement, no
thumbs under errors, a failed request kept for a retry, the conversation kept over a reload and
cleared by Clear, the phone layout, the widget's focus and Esc, and an axe-core check (no serious
or critical violation). The docs screenshots come from test_browser.py (the real model).
"""

from __future__ import annotations

import json
import re
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from index.documents import Article, Section
from qa import QuestionError
from ui.app import create_app
from ui.demo_host import create_demo_host
from ui.service import BotService
from ui.settings import Settings

pytestmark = [pytest.mark.browser]

TIMEOUT = 15_000  # ms
DELAY = 1.2  # seconds the fake bot takes to answer: long enough to see the pending state
QUESTION = "贸易额是多少？"
EXAMPLES = ("示例：峰会在哪里举行？", "示例：贸易额是多少？")
PLACEHOLDER = {"zh": "请输入关于峰会的问题", "en": "Ask about the summit"}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SECTION = (
    "2024年，中国与中亚五国贸易额达到948亿美元，同比增长。" + "双方在能源、交通等领域的合作不断深化。" * 6
)
LEAD = "峰会在阿斯塔纳举行。" * 3


def _article() -> Article:
    text = f"{LEAD}\n经贸合作\n{SECTION}"
    start = text.index(SECTION)
    return Article(
        id="a1",
        title="峰会报道",
        text=text,
        paragraphs=((0, len(LEAD)), (start, len(text))),
        sections=(Section(None, 0, len(LEAD)), Section("经贸合作", start, len(text))),
        source="人民日报",
        date="6月30日",
        url="https://news.example.com/a1",
    )


class FakeBot:
    """Answers with one supporting passage and three others (two from one article); abstains on
    questions about the weather; raises a QuestionError on questions containing 出错."""

    def __init__(self) -> None:
        self.index = types.SimpleNamespace(articles={"a1": _article()})
        self.settings = types.SimpleNamespace(max_question_chars=1000)

    def ask(self, question: str, top_k: int = 5, history=None):
        time.sleep(DELAY)
        if "出错" in question:
            raise QuestionError("这个问题无法回答。")
        article = self.index.articles["a1"]
        start = article.text.index(SECTION)
        sentence = SECTION[: SECTION.index("。") + 1]

        def cite(article_id, title, begin, end, url=None):
            return {
                "article_id": article_id,
                "article_title": title,
                "section": "经贸合作" if article_id == "a1" and begin >= start else None,
                "paragraph": 2,
                "source": "人民日报",
                "date": "6月30日",
                "chunk_id": f"{article_id}-{begin}",
                "start": begin,
                "end": end,
                "url": url,
            }

        passages = [
            {
                "rank": 1,
                "text": SECTION[:60],
                "score": 0.82,
                "highlights": [[0, len(sentence)]],
                "citation": cite("a1", "峰会报道", start, start + 60, article.url),
            },
            {
                "rank": 2,
                "text": "能源合作不断深化。",
                "score": 0.86,
                "highlights": [[0, 9]],
                "citation": cite("b2", "能源合作", 0, 9),
            },
            {
                "rank": 3,
                "text": LEAD[:20],
                "score": 0.71,
                "highlights": [],
                "citation": cite("a1", "峰会报道", 0, 20, article.url),
            },
            {
                "rank": 4,
                "text": "交通项目进展顺利。",
                "score": 0.66,
                "highlights": [],
                "citation": cite("c3", "交通项目", 0, 9),
            },
        ]
        abstained = "天气" in question
        answer = {
            "question": question,
            "answer": None if abstained else sentence,
            "abstained": abstained,
            "passages": passages,
        }
        return types.SimpleNamespace(to_dict=lambda: answer)


@dataclass
class Sites:
    app: str
    host: str
    feedback: Path


@pytest.fixture(scope="module")
def sites(serve_module, free_socket, tmp_path_factory) -> Sites:
    app_sock, host_sock = free_socket(), free_socket()
    host_url = f"http://127.0.0.1:{host_sock.getsockname()[1]}"
    feedback = tmp_path_factory.mktemp("feedback") / "feedback.jsonl"
    settings = Settings(
        allowed_origins=(host_url,),
        feedback_log=feedback,
        examples=EXAMPLES,
        placeholder=PLACEHOLDER["zh"],
        placeholder_en=PLACEHOLDER["en"],
    )
    app = serve_module(create_app(settings, BotService(loader=FakeBot).start(background=False)), app_sock)
    host = serve_module(create_demo_host(app.url), host_sock)
    return Sites(app.url, host.url, feedback)


@contextmanager
def reader(browser, viewport: dict, locale: str = "zh-CN") -> Iterator:
    """A fresh browser context (no storage) and page; page errors fail the test."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1, locale=locale)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors


def open_chat(page, sites: Sites, embed: str, theme: str = "auto", lang: str = "zh"):
    """Open the chat the way a reader meets it; return the frame the chat runs in."""
    from playwright.sync_api import expect

    query = f"?lang={lang}&theme={theme}"
    if embed == "page":
        page.goto(f"{sites.app}/{query}")
        frame = page.main_frame
    elif embed == "iframe":
        page.goto(f"{sites.host}/iframe{query}")
        frame = wait_for_frame(page, sites.app)
    elif embed == "widget":
        page.goto(f"{sites.host}/{query}")
        launcher = page.locator("#wenda-widget .button")
        launcher.click()
        frame = wait_for_frame(page, sites.app)
    else:  # the web component renders into the host page itself
        page.goto(f"{sites.host}/component{query}")
        frame = page.main_frame
    expect(frame.locator("#wd-input textarea")).to_be_visible(timeout=TIMEOUT)
    expect(frame.locator(".wd-status .wd-counter")).not_to_be_empty(timeout=TIMEOUT)  # the page script ran
    return frame


def wait_for_frame(page, app: str):
    deadline = time.time() + TIMEOUT / 1000
    while time.time() < deadline:
        for frame in page.frames:
            if frame.url.startswith(app) and frame is not page.main_frame:
                return frame
        page.wait_for_timeout(50)
    raise AssertionError(f"no frame from {app}: {[f.url for f in page.frames]}")


def answers(frame):
    return frame.locator("#wd-chatbot .wd-answer")


def ask(frame, question: str) -> None:
    frame.locator("#wd-input textarea").fill(question)
    frame.locator("#wd-send").click()


def axe_problems(frame) -> list[str]:
    """Serious and critical axe-core violations in this frame (axe's JS comes from the PyPI package)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(frame).response
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]} {v['nodes'][0].get('failureSummary', '')}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def is_dark(frame, embed: str) -> bool:
    if embed == "component":
        return frame.evaluate("document.querySelector('gradio-app').parentElement.classList.contains('dark')")
    return frame.evaluate("document.body.classList.contains('dark')")


def background_luminance(frame) -> float:
    """Relative luminance of the chat's own background."""
    colour = frame.locator("#wd-chatbot").evaluate(
        """el => { for (let e = el; e; e = e.parentElement) {
             const c = getComputedStyle(e).backgroundColor;
             if (c && !c.endsWith(', 0)') && c !== 'transparent') return c; }
           return 'rgb(255, 255, 255)'; }"""
    )
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", colour)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def check_layout(frame, viewport: dict) -> None:
    """Nothing overflows or overlaps: the conversation, the question row and the row under it sit
    inside the viewport one below the other, and the page itself does not scroll."""
    boxes = frame.evaluate(
        """() => {
          const r = (s) => { const e = document.querySelector(s); const b = e.getBoundingClientRect();
                              return {top: b.top, bottom: b.bottom, left: b.left, right: b.right}; };
          return {chat: r('#wd-chatbot'), ask: r('#wd-ask'), input: r('#wd-input textarea'), send: r('#wd-send'),
                  under: r('#wd-under'), clear: r('#wd-clear'), width: innerWidth, height: innerHeight,
                  scrollWidth: document.documentElement.scrollWidth, scrollHeight: document.documentElement.scrollHeight};
        }"""
    )
    width, height = boxes["width"], boxes["height"]
    assert boxes["scrollWidth"] <= width + 1, boxes  # no sideways scrolling
    assert boxes["scrollHeight"] <= height + 1, boxes  # one scroller: the conversation
    for name in ("chat", "ask", "input", "send", "under", "clear"):
        box = boxes[name]
        assert box["left"] >= -1 and box["right"] <= width + 1, (name, boxes)
        assert box["top"] >= -1 and box["bottom"] <= height + 1, (name, boxes)
    assert boxes["chat"]["bottom"] <= boxes["ask"]["top"] + 1 <= boxes["under"]["top"] + 1, boxes
    assert boxes["input"]["right"] <= boxes["send"]["left"] + 1, boxes


def gradio_labels(frame) -> list[str]:
    """The interface's own words (buttons, labels, placeholders), not the conversation's content."""
    return frame.evaluate(
        """() => {
          const words = [];
          document.querySelectorAll('button, textarea, input, [role=log], label, [aria-label]').forEach((el) => {
            // the conversation's own content is not interface text: messages, answers, example questions
            if (el.closest('.message-content, .wd-example, .wd-answer, [data-testid=user], [data-testid=bot]')) return;
            for (const v of [el.getAttribute('aria-label'), el.getAttribute('placeholder'), el.getAttribute('title'),
                             el.matches('button, label') ? el.innerText : null]) {
              if (v && v.trim()) words.push(v.trim());
            }
          });
          return words;
        }"""
    )


def like_buttons(frame, row):
    return row.get_by_role("button", name=re.compile(r"^(赞|踩|Like|Dislike)$"))


JOURNEYS = [
    pytest.param(embed, theme, size, id=f"{embed}-{theme}-{size}")
    for embed in ("page", "widget", "iframe")
    for theme in ("light", "dark")
    for size in ("desktop", "phone")
]


@pytest.mark.parametrize(("embed", "theme", "size"), JOURNEYS)
def test_reader_journey(browser, sites, embed, theme, size):
    from playwright.sync_api import expect

    viewport = DESKTOP if size == "desktop" else PHONE
    with reader(browser, viewport, locale="en-US") as page:  # an English browser: the page still says zh
        frame = open_chat(page, sites, embed, theme)
        # theme and language
        assert is_dark(frame, embed) is (theme == "dark")
        assert (background_luminance(frame) < 0.2) is (theme == "dark")
        assert frame.evaluate("document.documentElement.lang") == "zh-CN"
        expect(frame.locator("#wd-send")).to_have_text("提问")
        labels = " ".join(gradio_labels(frame))
        assert not re.search(r"[A-Za-z]{3,}", labels), labels  # no Gradio English in a Chinese page
        # names a screen reader announces; no "use via API" footer for readers
        expect(frame.get_by_role("heading", level=1)).to_have_text("文答 · 新闻问答")
        expect(frame.get_by_role("textbox", name="问题")).to_be_visible()
        expect(frame.get_by_role("button", name=EXAMPLES[0])).to_be_visible()
        assert frame.locator("footer").count() == 0
        # the settings' examples and placeholder
        expect(frame.locator(".wd-example")).to_have_text(list(EXAMPLES))
        assert frame.locator("#wd-input textarea").get_attribute("placeholder") == PLACEHOLDER["zh"]
        if embed == "widget":
            check_widget_open(page, frame, viewport)
        # inline validation: nothing is sent, the reason shows at once
        frame.locator("#wd-send").click()
        expect(frame.locator(".wd-status .wd-message")).to_have_text("请先输入问题。")
        frame.locator("#wd-input textarea").fill("问" * 1001)
        expect(frame.locator(".wd-status .wd-counter")).to_have_text("1001 / 1000 字")
        expect(frame.locator(".wd-status .wd-over")).to_be_visible()
        frame.locator("#wd-send").click()
        expect(frame.locator(".wd-status .wd-message")).to_contain_text("问题太长：最多 1000 字")
        assert frame.locator("#wd-chatbot [data-testid='user']").count() == 0
        # the question shows at once, with a pending reply; Send and the examples wait
        ask(frame, QUESTION)
        expect(frame.locator("#wd-chatbot [data-testid='user']").last).to_contain_text(QUESTION, timeout=1000)
        expect(frame.locator("#wd-chatbot .wd-pending")).to_have_text("正在查找…", timeout=1000)
        expect(frame.locator("#wd-send")).to_be_disabled()
        expect(frame.locator("#wd-examples")).to_be_hidden()
        expect(answers(frame)).to_have_count(1, timeout=TIMEOUT)
        expect(frame.locator("#wd-send")).to_be_enabled()
        check_reply(frame)
        if size == "phone":
            check_layout(frame, viewport)
        reply = answers(frame).first
        reply.locator("details.wd-others > summary").click()  # everything visible for the axe check
        problems = axe_problems(frame) + (axe_problems(page.main_frame) if embed != "page" else [])
        assert problems == [], problems
        check_section(frame)
        check_feedback(frame, sites)
        # an error reply: said in the chat, no thumbs under it, the question kept
        ask(frame, "出错的问题")
        error = frame.locator("#wd-chatbot .wd-error")
        expect(error).to_contain_text("出错了：这个问题无法回答。", timeout=TIMEOUT)
        expect(frame.locator("#wd-input textarea")).to_have_value("出错的问题")
        row = frame.locator("#wd-chatbot .message-row").filter(has=error)
        assert like_buttons(frame, row).count() == 0 or not like_buttons(frame, row).first.is_visible()
        check_failure_and_retry(page, frame)
        check_kept_and_cleared(page, sites, embed, theme, viewport)


def check_widget_open(page, frame, viewport: dict) -> None:
    """Focus went into the panel (the question box), Esc there closes it and focus goes back to the
    launcher; below 600 px the panel fills the screen."""
    from playwright.sync_api import expect

    field = frame.locator("#wd-input textarea")
    expect(field).to_be_focused(timeout=TIMEOUT)
    panel = page.locator("#wenda-widget .panel")
    box = panel.bounding_box()
    if viewport["width"] < 600:
        assert (box["x"], box["y"], box["width"], box["height"]) == (
            0,
            0,
            viewport["width"],
            viewport["height"],
        )
    else:
        assert box["width"] < viewport["width"] / 2
    field.press("Escape")
    expect(panel).to_be_hidden()
    assert (
        page.evaluate("document.querySelector('#wenda-widget').shadowRoot.activeElement?.className")
        == "button"
    )
    page.locator("#wenda-widget .button").click()
    expect(field).to_be_focused(timeout=TIMEOUT)


def check_reply(frame) -> None:
    """Supporting passage numbered and highlighted; the others folded, grouped, without highlights;
    relevance never rises down the list; the article link opens a new tab, safely."""
    from playwright.sync_api import expect

    reply = answers(frame).first
    expect(reply.locator(".wd-line mark")).to_have_text(
        "2024年，中国与中亚五国贸易额达到948亿美元，同比增长。"
    )
    expect(reply.locator(".wd-line sup.wd-ref")).to_have_text(["[1]"])
    support = reply.locator(".wd-passages .wd-support")
    expect(support).to_have_count(1)
    expect(support.locator(".wd-ref")).to_have_text("[1]")
    expect(support.locator("mark")).to_be_visible()
    others = reply.locator("details.wd-others")
    expect(others.locator("summary")).to_have_text("更多相关段落（3）")
    assert others.get_attribute("open") is None
    assert others.locator("mark").count() == 0 and others.locator(".wd-ref").count() == 0
    titles = others.locator(".wd-title").all_text_contents()
    assert titles == ["《能源合作》", "《峰会报道》", "《交通项目》"]  # 峰会报道's two passages: one group
    scores = [float(s.split()[-1]) for s in others.locator(".wd-score").all_text_contents()]
    assert scores == sorted(scores, reverse=True)
    link = reply.locator(".wd-passages a.wd-link")
    assert link.get_attribute("href") == "https://news.example.com/a1"
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener noreferrer"
    expect(link).to_contain_text("阅读原文")


def check_section(frame) -> None:
    from playwright.sync_api import expect

    passage = answers(frame).first.locator(".wd-support").first
    button = passage.locator(".wd-section")
    button.click()
    section = passage.locator(".wd-section-text")
    expect(section.locator(".wd-section-heading")).to_have_text("经贸合作", timeout=TIMEOUT)
    expect(section).to_contain_text(SECTION[-30:])  # the whole section, past the passage
    expect(section.locator(".wd-here")).to_have_text(SECTION[:60])
    assert button.get_attribute("aria-expanded") == "true"
    button.click()
    expect(section).to_be_hidden()


def check_feedback(frame, sites: Sites) -> None:
    from playwright.sync_api import expect

    before = len(sites.feedback.read_text(encoding="utf-8").splitlines()) if sites.feedback.exists() else 0
    row = frame.locator("#wd-chatbot .message-row").filter(has=frame.locator(".wd-answer")).last
    like_buttons(frame, row).filter(has_text=re.compile("")).last.click()
    expect(frame.locator("#wd-feedback .wd-thanks")).to_have_text("谢谢反馈！", timeout=TIMEOUT)
    frame.locator("#wd-reason textarea").fill("出处很清楚")
    frame.locator("#wd-reason-send").click()
    expect(frame.locator("#wd-feedback .wd-thanks")).to_have_text(
        "谢谢，我们收到了你的说明。", timeout=TIMEOUT
    )
    lines = [json.loads(line) for line in sites.feedback.read_text(encoding="utf-8").splitlines()[before:]]
    assert lines[0]["question"] == QUESTION and lines[0]["verdict"] in ("up", "down")
    assert lines[-1] == {"id": lines[0]["id"], "time": lines[-1]["time"], "reason": "出处很清楚"}
    frame.locator("#wd-feedback-close").click()
    expect(frame.locator("#wd-feedback:visible")).to_have_count(0)


def check_failure_and_retry(page, frame) -> None:
    """The server cannot be reached: the reader is told in the page's language, the question stays."""
    from playwright.sync_api import expect

    pattern = re.compile(r".*/gradio_api/queue/join.*")
    page.context.route(pattern, lambda route: route.abort())
    shown = answers(frame).count()
    ask(frame, "峰会在哪里举行？")
    expect(frame.locator(".wd-status .wd-message")).to_contain_text("没有连上问答服务", timeout=TIMEOUT)
    expect(frame.locator("#wd-input textarea")).to_have_value("峰会在哪里举行？")
    expect(frame.locator("#wd-send")).to_be_enabled()
    page.context.unroute(pattern)
    frame.locator("#wd-send").click()  # Gradio reconnects and starts afresh: the question is put back
    expect(frame.locator(".wd-status .wd-message")).to_contain_text("已重新连上问答服务", timeout=TIMEOUT)
    expect(frame.locator("#wd-input textarea")).to_have_value("峰会在哪里举行？")
    expect(answers(frame)).to_have_count(shown, timeout=TIMEOUT)  # the kept conversation came back
    frame.locator("#wd-send").click()
    expect(answers(frame)).to_have_count(shown + 1, timeout=TIMEOUT)
    expect(frame.locator("#wd-chatbot .wd-pending")).to_have_count(0)


def check_kept_and_cleared(page, sites: Sites, embed: str, theme: str, viewport: dict) -> None:
    from playwright.sync_api import expect

    shown = answers(page_chat(page, sites, embed)).count()
    page.reload()
    frame = reopen(page, sites, embed)
    expect(answers(frame)).to_have_count(shown, timeout=TIMEOUT)  # the conversation came back
    expect(frame.locator("#wd-examples")).to_be_hidden()
    frame.locator("#wd-clear").click()
    expect(answers(frame)).to_have_count(0)
    expect(frame.locator("#wd-examples")).to_be_visible()
    page.reload()
    frame = reopen(page, sites, embed)
    page.wait_for_timeout(500)
    expect(answers(frame)).to_have_count(0)


def page_chat(page, sites: Sites, embed: str):
    return page.main_frame if embed == "page" else wait_for_frame(page, sites.app)


def reopen(page, sites: Sites, embed: str):
    from playwright.sync_api import expect

    if embed == "widget":
        page.locator("#wenda-widget .button").click()
    frame = page_chat(page, sites, embed)
    expect(frame.locator(".wd-status .wd-counter")).not_to_be_empty(timeout=TIMEOUT)
    return frame


@pytest.mark.parametrize("embed", ["page", "iframe", "widget", "component"])
def test_english_on_every_embedding_path_gradio_included(browser, sites, embed):
    from playwright.sync_api import expect

    with reader(browser, DESKTOP, locale="zh-CN") as page:  # a Chinese browser: the page still says en
        frame = open_chat(page, sites, embed, lang="en")
        expect(frame.locator("#wd-send")).to_have_text("Ask")
        assert frame.locator("#wd-input textarea").get_attribute("placeholder") == PLACEHOLDER["en"]
        ask(frame, QUESTION)
        expect(answers(frame)).to_have_count(1, timeout=TIMEOUT)
        reply = answers(frame).first
        expect(reply.locator(".wd-copy").first).to_have_text("Copy citation")
        expect(reply.locator("details.wd-others > summary")).to_have_text("More related passages (3)")
        labels = " ".join(gradio_labels(frame))
        assert not re.search(r"[\u4e00-\u9fff]", labels), labels  # no Chinese interface words
        like = frame.locator("#wd-chatbot").get_by_role("button", name="Like")
        expect(like.last).to_be_attached()
        ask(frame, "今天天气怎么样？")
        expect(answers(frame)).to_have_count(2, timeout=TIMEOUT)
        abstain = answers(frame).last
        expect(abstain.locator(".wd-abstain")).to_have_text(
            "The indexed articles do not cover this question: no answer found."
        )
        assert abstain.locator("mark").count() == 0 and abstain.locator(".wd-ref").count() == 0
        expect(abstain.locator("details.wd-closest > summary")).to_contain_text(
            "they do not answer the question"
        )


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_embed_page_and_its_widget_pass_axe(browser, sites, theme):
    from playwright.sync_api import expect

    with reader(browser, DESKTOP) as page:
        page.emulate_media(color_scheme=theme)
        page.goto(f"{sites.app}/embed")
        assert axe_problems(page.main_frame) == []
        page.locator("#wenda-widget .button").click()
        frame = wait_for_frame(page, sites.app)
        expect(frame.locator(".wd-status .wd-counter")).not_to_be_empty(timeout=TIMEOUT)
        assert is_dark(frame, "widget") is (
            theme == "dark"
        )  # the widget's data-theme="auto" follows the system
        assert axe_problems(page.main_frame) == [] and axe_problems(frame) == []


def test_a_question_asked_while_the_server_is_down_is_kept_and_the_conversation_survives_a_restart(
    browser, serve, free_socket, tmp_path
):
    """The server really stops: the reader is told so in the page's language and the question stays
    in the box; a new server process on the same address then shows the kept conversation and
    answers the question."""
    import socket

    from playwright.sync_api import expect

    def start(sock):
        settings = Settings(feedback_log=tmp_path / "feedback.jsonl", examples=())
        return serve(create_app(settings, BotService(loader=FakeBot).start(background=False)), sock)

    first = start(free_socket())
    with reader(browser, PHONE) as page:
        frame = open_chat(page, Sites(first.url, first.url, tmp_path), "page")
        ask(frame, QUESTION)
        expect(answers(frame)).to_have_count(1, timeout=TIMEOUT)
        first.stop()
        ask(frame, "峰会在哪里举行？")
        expect(frame.locator(".wd-status .wd-message")).to_contain_text("没有连上问答服务", timeout=TIMEOUT)
        expect(frame.locator("#wd-input textarea")).to_have_value("峰会在哪里举行？")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", first.port))
        start(sock)
        frame.locator("#wd-send").click()  # Gradio reconnects to the new server and starts afresh
        expect(frame.locator("#wd-input textarea")).to_have_value("峰会在哪里举行？", timeout=TIMEOUT)
        expect(answers(frame)).to_have_count(1, timeout=TIMEOUT)  # the kept conversation
        frame.locator("#wd-send").click()
        # Gradio may reload the page on finding a new server; a question on its way is then put back
        deadline = time.time() + TIMEOUT / 1000
        while answers(page.main_frame).count() < 2 and time.time() < deadline:
            if "已重新连上" in page.main_frame.locator(".wd-status .wd-message").inner_text():
                expect(page.main_frame.locator("#wd-input textarea")).to_have_value("峰会在哪里举行？")
                page.main_frame.locator("#wd-send").click()
            page.wait_for_timeout(200)
        expect(answers(page.main_frame)).to_have_count(2, timeout=TIMEOUT)
        page.reload()
        expect(answers(page.main_frame)).to_have_count(2, timeout=TIMEOUT)
