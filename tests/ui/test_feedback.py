"""Feedback (issue 14.4): one vote per answer, a later vote replaces it, `liked` strictly a boolean,
the text from the server's record of the answer, a rate limit per client, capped lines."""

from __future__ import annotations

import json

import httpx
import pytest

from ui.app import create_app
from ui.feedback import FeedbackLimits, FeedbackLog, RateLimit, feedback_record, read_votes

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


def test_each_answer_gets_its_own_server_issued_id(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    first, second = log.remember(ANSWER), log.remember(ANSWER)
    assert first["answer_id"] != second["answer_id"] and len(first["answer_id"]) == 32
    assert first["question"] == ANSWER["question"] and "answer_id" not in ANSWER
    assert feedback_record(ANSWER)["passages"][0] == {
        "rank": 1,
        "chunk_id": "c1",
        "article_id": "a1",
        "article_title": "峰会报道",
        "paragraph": 9,
        "score": 0.9,
    }


def test_one_vote_per_answer_and_a_later_vote_replaces_it(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    answer_id = log.remember(ANSWER)["answer_id"]
    outcome, line_id = log.vote(answer_id, True, "1.2.3.4")
    assert outcome == "recorded" and line_id
    assert {log.vote(answer_id, True, "1.2.3.4") for _ in range(50)} == {("unchanged", line_id)}
    assert log.vote(answer_id, False, "1.2.3.4")[0] == "replaced"
    written = lines(log.path)
    assert [line["verdict"] for line in written] == ["up", "down"]
    votes = read_votes(log.path)
    assert list(votes) == [answer_id] and votes[answer_id]["verdict"] == "down"
    assert written[0]["question"] == "贸易额是多少？" and written[0]["answer"] == "贸易额达到948亿美元。"


def test_a_vote_names_an_answer_the_server_gave(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    log.remember(ANSWER)
    for answer_id in (None, "", "0" * 32, 5, ["x"], {"answer_id": "x"}):
        assert log.vote(answer_id, True, "1.2.3.4") == (
            "refused: no such answer (or one this server no longer remembers)",
            None,
        )
    assert not log.path.exists()


def test_the_server_remembers_the_most_recent_answers_only(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl", limits=FeedbackLimits(remembered_answers=3))
    ids = [log.remember(ANSWER)["answer_id"] for _ in range(5)]
    assert log.vote(ids[0], True, "1.2.3.4")[1] is None and log.vote(ids[4], True, "1.2.3.4")[1]


def test_a_vote_may_change_a_few_times_only(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl", limits=FeedbackLimits(max_changes=3))
    answer_id = log.remember(ANSWER)["answer_id"]
    outcomes = [log.vote(answer_id, i % 2 == 0, "1.2.3.4")[0] for i in range(20)]
    assert outcomes[:4] == ["recorded", "replaced", "replaced", "replaced"]
    assert set(outcomes[4:]) == {"refused: this answer's verdict has changed too often", "unchanged"}
    assert len(lines(log.path)) == 4


@pytest.mark.parametrize("liked", ["Dislike", "Like", "true", None, 0, 1, [], {}, ""])
def test_liked_must_be_a_boolean(tmp_path, liked):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    answer_id = log.remember(ANSWER)["answer_id"]
    assert log.vote(answer_id, liked, "1.2.3.4") == ("refused: liked must be true or false", None)
    assert not log.path.exists()


def test_votes_and_reasons_are_rate_limited_per_client(tmp_path):
    clock = Clock()
    log = FeedbackLog(tmp_path / "feedback.jsonl", limits=FeedbackLimits(votes_per_minute=20), clock=clock)
    outcomes = [log.vote(log.remember(ANSWER)["answer_id"], True, "1.2.3.4")[0] for _ in range(25)]
    assert outcomes.count("recorded") == 20 and outcomes[-1].startswith("refused: too many votes")
    assert log.vote(log.remember(ANSWER)["answer_id"], True, "5.6.7.8")[0] == "recorded"  # another client
    _, line_id = log.vote(log.remember(ANSWER)["answer_id"], True, "5.6.7.8")
    assert log.reason(line_id, "出处不对", "1.2.3.4").startswith("refused: too many votes")
    clock.now += 30  # half a minute: ten votes more
    more = [log.vote(log.remember(ANSWER)["answer_id"], True, "1.2.3.4")[0] for _ in range(11)]
    assert more.count("recorded") == 10


def test_one_reason_per_verdict(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    answer_id = log.remember(ANSWER)["answer_id"]
    _, line_id = log.vote(answer_id, False, "1.2.3.4")
    assert log.reason("not-a-verdict", "x", "1.2.3.4") == "refused: no such verdict"
    assert log.reason(line_id, "   ", "1.2.3.4") == "refused: no reason given"
    assert log.reason(line_id, 5, "1.2.3.4") == "refused: no reason given"
    assert log.reason(line_id, "长" * 2000, "1.2.3.4") == "recorded"
    assert log.reason(line_id, "又一条", "1.2.3.4") == "refused: this verdict has its reason"
    reason = lines(log.path)[-1]
    assert reason["id"] == line_id and reason["reason"] == "长" * 500


def test_rate_limit_forgets_old_clients():
    limit = RateLimit(1, max_keys=3)
    assert all(limit.allow(str(i)) for i in range(10))
    assert len(limit._buckets) == 3


def test_lines_are_capped_and_the_log_rotates(tmp_path):
    log = FeedbackLog(tmp_path / "feedback.jsonl", max_bytes=5000, limits=FeedbackLimits(max_line_bytes=2000))
    many = {**ANSWER, "answer": "长" * 10_000, "passages": ANSWER["passages"] * 50}
    for i in range(10):
        log.vote(log.remember(many)["answer_id"], True, f"10.0.0.{i}")
    for part in (log.path, log.path.with_name("feedback.jsonl.1")):
        written = part.read_bytes().splitlines()
        assert all(len(line) < 2000 and json.loads(line)["answer_id"] for line in written)
        assert part.stat().st_size <= 5000
    assert len(read_votes(log.path)) >= 3


def test_no_feedback_log_records_nothing(tmp_path):
    log = FeedbackLog(None)
    answer_id = log.remember(ANSWER)["answer_id"]
    assert log.vote(answer_id, True, "1.2.3.4")[0].startswith("refused")
    log.record({"verdict": "up"})
    assert list(tmp_path.iterdir()) == []


def test_the_like_event_records_the_servers_answer_once(
    service, settings, serve, gradio_direct, chat_ask, chat_events
):
    """As the page does: 200 likes of one answer from one client, with a forged message text and bad
    `liked` values, leave one line holding the server's own answer."""
    app = create_app(settings, service)
    ids = chat_events(app)
    server = serve(app)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert chat_ask(client, ids, "贸易额是多少？", "session-1")["success"]
        forged = {"index": 1, "value": ["我说的：伪造的文字"], "liked": True}
        for i in range(200):
            liked = [True, "Dislike", None, 1, "true"][i % 5]
            event = gradio_direct(
                client, ids["on_like"], [None, None], "session-1", {**forged, "liked": liked}
            )
            assert event.status_code < 500
        # a like on a message of another session's chat names nothing in this one
        assert gradio_direct(client, ids["on_like"], [None, None], "session-2", forged).status_code < 500
    written = lines(settings.feedback_path)
    assert len(written) == 1 and written[0]["verdict"] == "up"
    assert written[0]["question"] == "贸易额是多少？"
    assert "伪造" not in json.dumps(written[0], ensure_ascii=False) and written[0]["answer_id"]
