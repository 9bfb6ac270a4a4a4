"""The chat's handlers: replies, follow-up history, errors, feedback lines and the interface language."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr
import pytest

from ui.chat import FeedbackLog, _localised, _respond, build_chat
from ui.service import NotReadyError, QuestionError

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
    assert recs[0]["passages"][0]["chunk_id"] == "c1"


@pytest.mark.parametrize("error", [QuestionError("问题为空"), NotReadyError("索引正在加载")])
def test_errors_become_a_message_and_keep_the_question_in_the_box(error):
    chat, box, recs = _respond(FakeService(error), "问题", [], [], top_k=5)
    assert "wd-error" in chat[1]["content"] and str(error) in chat[1]["content"]
    assert box == "问题" and recs == [{"question": None}]


def test_like_event_appends_one_json_line_with_question_passages_and_verdict(tmp_path):
    log = tmp_path / "feedback.jsonl"
    demo = build_chat(FakeService(), examples=(), feedback_path=log)
    like = next(fn for fn in demo.fns.values() if fn.name == "on_like")
    assert [event for _, event in like.targets] == ["like"]
    _, _, recs = _respond(FakeService(), "贸易额是多少？", [], [], top_k=5)
    request = SimpleNamespace(client=SimpleNamespace(host="127.0.0.1"))
    like.fn(recs, gr.LikeData(None, {"index": 1, "value": "…", "liked": True}), request)
    like.fn(recs, gr.LikeData(None, {"index": 1, "value": "…", "liked": False}), request)  # replaces it
    like.fn(recs, gr.LikeData(None, {"index": 7, "value": "…", "liked": True}), request)  # no such reply
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [line["verdict"] for line in lines] == ["up", "down"]
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
    assert lines[0]["time"] and lines[0]["answer_id"] == lines[1]["answer_id"]


def test_feedback_log_without_a_path_writes_nothing(tmp_path):
    FeedbackLog(None).record({"verdict": "up"})
    assert list(tmp_path.iterdir()) == []


def test_interface_text_is_chinese_unless_english_is_asked_for():
    zh, en = _localised("zh"), _localised("en")
    assert zh[0] == "zh" and "新闻问答" in zh[1]["value"] and zh[4]["value"] == "提问"
    assert en[0] == "en" and "News Q&A" in en[1]["value"] and en[4]["value"] == "Ask"


def test_english_replies_use_english_labels():
    chat, _, _ = _respond(FakeService(), "How much?", [], [], top_k=5, lang="en")
    assert "Copy citation" in chat[1]["content"] and "para. 9" in chat[1]["content"]


def test_chat_has_no_share_or_html_copy_buttons_and_renders_no_markdown():
    demo = build_chat(FakeService(), examples=("问？",))
    chatbot = next(b for b in demo.blocks.values() if isinstance(b, gr.Chatbot))
    assert chatbot.buttons == [] and chatbot.render_markdown is False and chatbot.sanitize_html
