"""Feedback (issue 14.4): one vote per answer, a later vote replaces it, `liked` strictly a boolean,
the text from the server's record of the answer, a rate limit per client, capped lines and file."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from ui.app import create_app
from ui.feedback import FeedbackLimits, FeedbackLog, RateLimit, answer_record, read_votes

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
ANSWER = {
    "question": "贸易额是多少？",
    "answer": "贸易额达到948亿美元。",
    "abstained": False,
    "passages": [
        {"rank": 1, "text": "贸易额达到948亿美元。", "score": 0.9, "highlights": [], "citation": CITATION}
    ],
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(path) -> list[dict]:
    return (
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []
    )


def test_each_answer_gets_its_own_server_issued_id():
    first, second = answer_record(ANSWER), answer_record(ANSWER)
    assert first["answer_id"] != second["answer_id"] and len(first["answer_id"]) == 32
    assert first["passages"][0] == {
        "rank": 1,
        "chunk_id": "c1",
        "article_id": "a1",
        "article_title": "峰会报道",
        "paragraph": 9,
        "score": 0.9,
    }


def test_one_vote_per_answer_and_a_later_vote_replaces_it(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    record = answer_record(ANSWER)
    assert log.vote(record, True, "1.2.3.4") == "recorded"
    assert {log.vote(record, True, "1.2.3.4") for _ in range(50)} == {"unchanged"}
    assert log.vote(record, False, "1.2.3.4") == "replaced"
    written = lines(log.path)
    assert [line["verdict"] for line in written] == ["up", "down"]
    votes = read_votes(log.path)
    assert list(votes) == [record["answer_id"]] and votes[record["answer_id"]]["verdict"] == "down"
    assert written[0]["question"] == "贸易额是多少？" and written[0]["answer"] == "贸易额达到948亿美元。"


def test_a_vote_may_change_a_few_times_only(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl", FeedbackLimits(max_changes=3))
    record = answer_record(ANSWER)
    outcomes = [log.vote(record, i % 2 == 0, "1.2.3.4") for i in range(20)]
    assert outcomes[:4] == ["recorded", "replaced", "replaced", "replaced"]
    assert set(outcomes[4:]) == {"refused: this answer's vote has changed too often", "unchanged"}
    assert len(lines(log.path)) == 4


@pytest.mark.parametrize("liked", ["Dislike", "Like", "true", None, 0, 1, [], {}, ""])
def test_liked_must_be_a_boolean(tmp_path, liked):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    assert log.vote(answer_record(ANSWER), liked, "1.2.3.4") == "refused: liked must be true or false"
    assert not log.path.exists()


def test_votes_are_rate_limited_per_client(tmp_path):
    clock = Clock()
    log = FeedbackLog(tmp_path / "feedback.jsonl", FeedbackLimits(votes_per_minute=20), clock=clock)
    outcomes = [log.vote(answer_record(ANSWER), True, "1.2.3.4") for _ in range(25)]
    assert outcomes.count("recorded") == 20 and outcomes[-1].startswith("refused: too many votes")
    assert log.vote(answer_record(ANSWER), True, "5.6.7.8") == "recorded"  # another client
    clock.now += 30  # half a minute: ten votes more
    assert [log.vote(answer_record(ANSWER), True, "1.2.3.4") for _ in range(11)].count("recorded") == 10


def test_rate_limit_forgets_old_clients():
    limit = RateLimit(1, max_keys=3)
    assert all(limit.allow(str(i)) for i in range(10))
    assert len(limit._buckets) == 3


def test_lines_and_the_file_are_capped(tmp_path, caplog):
    limits = FeedbackLimits(max_line_bytes=2000, max_file_bytes=5000)
    log = FeedbackLog(tmp_path / "feedback.jsonl", limits)
    many = {**ANSWER, "answer": "长" * 10_000, "passages": ANSWER["passages"] * 50}
    with caplog.at_level(logging.WARNING, logger="wenda.ui"):
        outcomes = [log.vote(answer_record(many), True, f"10.0.0.{i}") for i in range(10)]
    written = log.path.read_bytes().splitlines()
    assert all(len(line) < 2000 for line in written) and all(
        json.loads(line)["answer_id"] for line in written
    )
    assert log.path.stat().st_size <= 5000
    assert outcomes[-1] == "refused: the feedback log is full"
    assert caplog.text.count("feedback log") == 1  # said once


def test_no_feedback_log_records_nothing(tmp_path):
    log = FeedbackLog(None)
    assert log.vote(answer_record(ANSWER), True, "1.2.3.4").startswith("refused")
    assert not log.record({"verdict": "up"}) and list(tmp_path.iterdir()) == []


def test_the_like_event_records_the_servers_answer_once(service, settings, serve, gradio_event, chat_events):
    """Through Gradio's queue, as the page does: 200 likes of one answer from one client, with a
    forged message text and bad `liked` values, leave one line holding the server's own answer."""
    app = create_app(settings, service)
    ids = chat_events(app)
    server = serve(app)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        done = gradio_event(client, ids["respond"], ["贸易额是多少？", [], None, None], "session-1")
        assert done["success"]
        forged = {"index": 1, "value": ["我说的：伪造的文字"], "liked": True}
        for i in range(200):
            liked = [True, "Dislike", None, 1, "true"][i % 5]
            event = gradio_event(client, ids["on_like"], [None], "session-1", {**forged, "liked": liked})
            assert event.get("success", True) is not None
        # a like on a message of another session's chat names nothing in this one
        gradio_event(client, ids["on_like"], [None], "session-2", forged)
    written = lines(settings.feedback_log)
    assert len(written) == 1 and written[0]["verdict"] == "up"
    assert written[0]["question"] == "贸易额是多少？" and "伪造" not in json.dumps(
        written[0], ensure_ascii=False
    )
    assert written[0]["answer_id"]
