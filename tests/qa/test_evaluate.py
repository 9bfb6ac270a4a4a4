"""What `qa eval --show-misses` calls a failure."""

from __future__ import annotations

from qa.evaluate import EvalItem, Outcome, failure


def _outcome(answers: tuple[str, ...], rank: int | None, abstained: bool) -> Outcome:
    item = EvalItem("峰会在哪里举行？", answers, "factoid" if answers else "unanswerable")
    return Outcome(item, rank, line_hit=False, abstained=abstained, seconds=0.0)


def test_each_way_of_going_wrong_is_named():
    assert failure(_outcome(("阿斯塔纳",), 1, abstained=False)) is None
    assert failure(_outcome(("阿斯塔纳",), 5, abstained=False)) is None
    assert failure(_outcome(("阿斯塔纳",), 6, abstained=False)) == "not found"
    assert failure(_outcome(("阿斯塔纳",), None, abstained=True)) == "not found"
    assert failure(_outcome(("阿斯塔纳",), 2, abstained=True)) == "false abstention"
    assert failure(_outcome((), None, abstained=True)) is None
    assert failure(_outcome((), None, abstained=False)) == "answered"
    assert failure(_outcome(("阿斯塔纳",), 6, abstained=False), k=10) is None
