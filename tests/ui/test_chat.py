"""The chat's handlers: pending replies, follow-up history, errors, feedback lines, the conversation kept
by the browser and the interface language."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr
import pytest

from qa import QuestionError
from ui.chat import (
    FeedbackLog,
    _booted,
    _finish,
    _liked,
    _respond,
    _start,
    build_chat,
    kept,
    restorable,
)
from ui.service import NotReadyError

CITATION = {
    "article_id": "a1",
    "article_title": "峰会报道",
    "section": "经贸",
    "paragraph": 9,
    "source": "人民日报",
    "date": "6月30日",
    "chunk_id": "c1",
    "start": 0,
    "end": 20,
    "url": None,
}


class FakeService:
    """Answers every question with one cited passage; remembers what it was asked."""

    max_question_chars = 1000
    failed = False

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.error = error

    def ask(self, question: str, top_k: int = 5, history: list[str] | None = None) -> dict:
        self.calls.append((question, list(history or [])))
        if self.error:
            raise self.error
        passage = {
            "rank": 1,
            "text": "贸易额达到948亿美元。",
            "score": 0.9,
            "highlights": [[0, 11]],
            "citation": CITATION,
        }
        return {
            "question": question,
            "answer": "贸易额达到948亿美元。",
            "abstained": False,
            "passages": [passage],
        }


def test_reply_shows_the_answer_and_passes_earlier_questions_as_history():
    service = FakeService()
    chat, box, recs = _respond(service, "贸易额是多少？", [], [], top_k=5)
    chat, box, recs = _respond(service, "那去年呢？", chat, recs, top_k=5)
    assert service.calls[1] == ("那去年呢？", ["贸易额是多少？"])
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "assistant"]
    assert "<mark>贸易额达到948亿美元。</mark>" in chat[1]["content"] and box == ""
    assert recs[0]["passages"][0]["citation"]["chunk_id"] == "c1"  # the whole answer, kept for a reload


def test_the_question_and_a_pending_reply_show_before_the_answer():
    service = FakeService()
    question, chat, box, recs, examples = _start("贸易额是多少？", [], [], "zh", service)
    assert question == "贸易额是多少？" and box == "" and service.calls == []  # nothing asked yet
    assert chat[0]["content"] == "贸易额是多少？" and "正在查找…" in chat[1]["content"]
    assert examples["visible"] is False
    chat, box, recs, saved = _finish(service, question, chat, recs, 5, "zh")
    assert "正在查找" not in chat[1]["content"] and "<mark>贸易额达到948亿美元。</mark>" in chat[1]["content"]
    assert json.loads(saved)[0]["question"] == "贸易额是多少？"


@pytest.mark.parametrize("question", ["", "   ", "问" * 1001])
def test_empty_or_over_long_questions_are_not_sent(question):
    service = FakeService()
    pending, chat, *_ = _start(question, [], [], "zh", service)
    assert pending == "" and not isinstance(chat, list) and service.calls == []


def test_a_reply_that_never_came_is_dropped_when_the_question_is_asked_again():
    service = FakeService()
    _, chat, _, recs, _ = _start("贸易额是多少？", [], [], "zh", service)  # the answer step never ran
    _, chat, _, recs, _ = _start("贸易额是多少？", chat, recs, "zh", service)
    assert len(chat) == 2 and len(recs) == 1


@pytest.mark.parametrize(
    ("error", "shown"),
    [(QuestionError("问题为空"), "问题为空"), (NotReadyError("索引正在加载"), "索引正在加载，请稍候再试。")],
)
def test_errors_become_a_message_in_the_page_language_and_keep_the_question(error, shown):
    chat, box, recs = _respond(FakeService(error), "问题", [], [], top_k=5)
    assert "wd-error" in chat[1]["content"] and shown in chat[1]["content"]
    assert box == "问题" and recs == [{"question": None}]
    chat, _, _ = _respond(FakeService(NotReadyError("x")), "question", [], [], top_k=5, lang="en")
    assert "The index is still loading" in chat[1]["content"] and "索引" not in chat[1]["content"]


def test_like_event_appends_one_json_line_with_question_passages_and_verdict_then_a_reason(tmp_path):
    log = tmp_path / "feedback.jsonl"
    demo = build_chat(FakeService(), examples=(), feedback_path=log)
    fns = {fn.name: fn for fn in demo.fns.values()}
    assert [event for _, event in fns["on_like"].targets] == ["like"]
    question, chat, _, recs, _ = _start("贸易额是多少？", [], [], "zh", FakeService())
    chat, _, recs, _ = fns["finish"].fn(question, chat, recs, "zh")  # the server gives the answer its id
    request = SimpleNamespace(client=SimpleNamespace(host="127.0.0.1"))
    like = fns["on_like"].fn
    shown = like(recs, "zh", request, gr.LikeData(None, {"index": 1, "value": "…", "liked": True}))
    assert shown[0]["visible"] is True and "谢谢反馈" in shown[1]  # thanked, with a field for a reason
    changed = like(recs, "zh", request, gr.LikeData(None, {"index": 1, "value": "…", "liked": False}))
    like(recs, "zh", request, gr.LikeData(None, {"index": 7, "value": "…", "liked": True}))  # no such reply
    fns["on_reason"].fn("出处不对", changed[-1], "zh", request)
    fns["on_reason"].fn("再说一次", changed[-1], "zh", request)  # one reason per verdict
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [line.get("verdict") for line in lines] == ["up", "down", None]
    assert lines[2] == {"id": changed[-1], "time": lines[2]["time"], "reason": "出处不对"}
    assert lines[0]["question"] == "贸易额是多少？" and lines[0]["answer"] == "贸易额达到948亿美元。"
    assert lines[0]["passages"] == [
        {
            "rank": 1,
            "chunk_id": "c1",
            "article_id": "a1",
            "article_title": "峰会报道",
            "paragraph": 9,
            "score": 0.9,
        }
    ]
    assert lines[0]["time"] and lines[0]["id"] == shown[-1] and lines[1]["id"] == changed[-1]
    assert lines[0]["answer_id"] == lines[1]["answer_id"] == recs[0]["answer_id"]  # a changed vote replaces


def test_a_restored_answer_logs_the_servers_record_not_the_pages(tmp_path):
    """The browser keeps the conversation and sends it back on load: an answer this server gave is
    voted on with the server's record of it; one it never gave (or forgot) gets no vote."""
    log = tmp_path / "feedback.jsonl"
    demo = build_chat(FakeService(), examples=(), feedback_path=log)
    fns = {fn.name: fn for fn in demo.fns.values()}
    question, chat, _, recs, _ = _start("贸易额是多少？", [], [], "zh", FakeService())
    _, _, recs, _ = fns["finish"].fn(question, chat, recs, "zh")
    forged = [{**recs[0], "question": "伪造的问题", "answer": "伪造的回答"}]
    unknown = [{**recs[0], "answer_id": "0" * 32}]
    request = SimpleNamespace(client=SimpleNamespace(host="127.0.0.1"))
    liked = gr.LikeData(None, {"index": 1, "value": "…", "liked": True})
    fns["on_like"].fn(forged, "zh", request, liked)
    assert fns["on_like"].fn(unknown, "zh", request, liked)[0] == gr.skip()
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 1 and lines[0]["question"] == "贸易额是多少？" and "伪造" not in json.dumps(lines)


def test_no_feedback_on_error_replies(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    _, _, recs = _respond(FakeService(QuestionError("坏问题")), "问题", [], [], top_k=5)
    out = _liked(log, recs, "zh", gr.LikeData(None, {"index": 1, "value": "…", "liked": True}))
    assert not (tmp_path / "feedback.jsonl").exists() and out[0] == gr.skip()


def test_feedback_log_is_size_capped_keeping_one_older_file(tmp_path):
    path = tmp_path / "feedback.jsonl"
    log = FeedbackLog(path, max_bytes=2000)
    for i in range(100):
        log.record({"verdict": "up", "n": i, "pad": "x" * 50})
    assert path.stat().st_size <= 2000 and path.with_name("feedback.jsonl.1").stat().st_size <= 2000
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[-1])["n"] == 99


def test_feedback_log_without_a_path_writes_nothing(tmp_path):
    FeedbackLog(None).record({"verdict": "up"})
    assert list(tmp_path.iterdir()) == []


def test_interface_text_and_kept_conversation_come_back_on_load():
    service = FakeService()
    _, _, recs = _respond(service, "贸易额是多少？", [], [], top_k=5)
    saved = kept(recs)
    boot = json.dumps({"lang": "en", "compact": True, "saved": saved})
    out = _booted(boot, None, {"zh": "问？", "en": "Ask?"}, service, True)
    lang, header, chat, box, send, _clear, examples = out[:7]
    assert lang == "en" and "News Q&amp;A" in header["value"] or "News Q&A" in header["value"]
    assert [m["role"] for m in chat["value"]] == ["user", "assistant"] and "Copy citation" in chat["value"][
        1
    ]["content"]
    assert box["placeholder"] == "Ask?" and send["value"] == "Ask" and examples["visible"] is False
    zh = _booted(json.dumps({"lang": "zh"}), None, {"zh": "问？", "en": "Ask?"}, service, True)
    assert zh[0] == "zh" and zh[4]["value"] == "提问" and zh[2]["value"] == [] and zh[6]["visible"] is True


@pytest.mark.parametrize("saved", ["not json", "{}", '[{"question": 1}]', '[{"no": "question"}]', "[1, 2]"])
def test_a_damaged_kept_conversation_is_dropped(saved):
    assert restorable(saved) == []


def test_english_replies_use_english_labels():
    chat, _, _ = _respond(FakeService(), "How much?", [], [], top_k=5, lang="en")
    assert "Copy citation" in chat[1]["content"] and "para. 9" in chat[1]["content"]


def test_chat_has_no_share_or_html_copy_buttons_and_renders_no_markdown():
    demo = build_chat(FakeService(), examples=("问？",))
    chatbot = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    assert chatbot.buttons == [] and chatbot.render_markdown is False and chatbot.sanitize_html
