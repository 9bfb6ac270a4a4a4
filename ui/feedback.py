"""Thumbs up/down on the chat's answers: one vote per answer, from the server's own record of it.

Each answer the chat gives gets an id issued by the server (`answer_record`), kept with the
question, the answer and the passages in the session's server-side state; a vote names the
answer only by its place in the conversation. The log is JSONL, one line per vote. A vote on an
answer already voted on replaces it: the same verdict again writes nothing, a changed verdict
writes a new line with the same `answer_id` (the last line of an answer is its vote; `read_votes`
reads the log that way), at most `max_changes` times per answer. `liked` must be a JSON boolean.
Each client address may vote `votes_per_minute` times a minute; lines and the file are capped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("wenda.ui")

MAX_ANSWER_CHARS = 2000
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class FeedbackLimits:
    """How much feedback one client, one answer and the whole log may take."""

    votes_per_minute: int = 20  # per client address
    max_changes: int = 3  # times one answer's vote may change after the first
    max_line_bytes: int = 16 * 1024
    max_file_bytes: int = 50 * 1024 * 1024
    remembered_answers: int = 100_000  # answers whose vote is remembered (for one vote per answer)
    remembered_clients: int = 10_000  # client addresses whose rate is tracked


def answer_record(answer: dict[str, Any]) -> dict[str, Any]:
    """What the server keeps of a reply for feedback: a new answer id, the question, the answer
    and the passages shown (ids and titles, not their text)."""
    return {
        "answer_id": uuid.uuid4().hex,
        "question": answer["question"],
        "answer": None if answer["answer"] is None else answer["answer"][:MAX_ANSWER_CHARS],
        "abstained": answer["abstained"],
        "passages": [
            {
                "rank": p["rank"],
                "chunk_id": p["citation"]["chunk_id"],
                "article_id": p["citation"]["article_id"],
                "article_title": (p["citation"]["article_title"] or "")[:MAX_TITLE_CHARS],
                "paragraph": p["citation"]["paragraph"],
                "score": p["score"],
            }
            for p in answer["passages"]
        ],
    }


class RateLimit:
    """A token bucket per key: `per_minute` tokens a minute, at most `per_minute` saved up."""

    def __init__(
        self, per_minute: int, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, time)

    def allow(self, key: str) -> bool:
        """Take a token for `key` if it has one."""
        now = self.clock()
        tokens, then = self._buckets.pop(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - then) * self.per_minute / 60)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed


class FeedbackLog:
    """Records votes as JSON lines (thread-safe); records nothing without a path."""

    def __init__(
        self,
        path: Path | None,
        limits: FeedbackLimits = FeedbackLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.limits = limits
        self.rate = RateLimit(limits.votes_per_minute, limits.remembered_clients, clock)
        self._votes: OrderedDict[str, tuple[str, int]] = OrderedDict()  # answer_id -> (verdict, changes)
        self._lock = threading.Lock()
        self._full_logged = False

    def vote(self, record: dict[str, Any], liked: Any, client: str) -> str:
        """Record `client`'s vote `liked` (True: up, False: down) on the answer of `record` (from
        `answer_record`); return what happened: recorded, replaced, unchanged, or refused: why."""
        if self.path is None:
            return "refused: feedback is not recorded (no feedback log)"
        if not isinstance(liked, bool):
            return "refused: liked must be true or false"
        answer_id = record.get("answer_id")
        if not isinstance(answer_id, str) or not answer_id:
            return "refused: no such answer"
        verdict = "up" if liked else "down"
        with self._lock:
            earlier = self._votes.get(answer_id)
            if earlier is not None and earlier[0] == verdict:
                return "unchanged"
            changes = 0 if earlier is None else earlier[1] + 1
            if changes > self.limits.max_changes:
                return "refused: this answer's vote has changed too often"
            if not self.rate.allow(client):
                return "refused: too many votes from this client; try again in a minute"
            entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "verdict": verdict, **record}
            if not self._append(entry):
                return "refused: the feedback log is full"
            self._votes.pop(answer_id, None)
            self._votes[answer_id] = (verdict, changes)
            while len(self._votes) > self.limits.remembered_answers:
                self._votes.popitem(last=False)
        return "recorded" if earlier is None else "replaced"

    def record(self, entry: dict[str, Any]) -> bool:
        """Append `entry` as one JSON line within the caps; whether it was written."""
        if self.path is None:
            return False
        with self._lock:
            return self._append(entry)

    def _append(self, entry: dict[str, Any]) -> bool:
        line = _capped_line(entry, self.limits.max_line_bytes)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = self.path.stat().st_size if self.path.exists() else 0
        if size + len(line) > self.limits.max_file_bytes:
            if not self._full_logged:
                log.warning(
                    "feedback log %s has reached %d bytes: no more votes are recorded; "
                    "move it away to start a new one",
                    self.path,
                    self.limits.max_file_bytes,
                )
                self._full_logged = True
            return False
        with self.path.open("ab") as handle:
            handle.write(line)
        return True


def _capped_line(entry: dict[str, Any], max_bytes: int) -> bytes:
    """`entry` as one JSON line of at most `max_bytes`: its last passages dropped, then its texts
    shortened, if need be."""
    entry = dict(entry)
    while True:
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8", "replace")
        if len(line) <= max_bytes:
            return line
        if entry.get("passages"):
            entry["passages"] = entry["passages"][:-1]
        elif any(isinstance(v, str) and len(v) > 200 for v in entry.values()):
            entry = {k: v[:200] if isinstance(v, str) else v for k, v in entry.items()}
        else:
            keep = ("time", "verdict", "answer_id")
            return (json.dumps({k: entry.get(k) for k in keep}) + "\n").encode()


def read_votes(path: Path) -> dict[str, dict[str, Any]]:
    """The vote of each answer in a feedback log: the last line with its `answer_id`."""
    votes: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            votes[entry.get("answer_id") or f"line-{len(votes)}"] = entry
    return votes


__all__ = ["FeedbackLimits", "FeedbackLog", "RateLimit", "answer_record", "read_votes"]
