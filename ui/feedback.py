"""Thumbs up/down (and an optional reason) on the chat's answers: one vote per answer, recorded from
the server's own record of it.

Each answer the chat gives gets an id issued by the server (`FeedbackLog.remember`), which keeps
the question, the answer and the passages shown; the page only says which answer it votes on
(the browser may keep and restore a conversation, but what it sends back is never logged). The
log is JSONL: a verdict line `{"id", "answer_id", "time", "verdict", "question", "answer",
"abstained", "passages"}`, a reason line `{"id", "time", "reason"}` naming its verdict line.

One vote per answer: the same verdict again writes nothing; a changed verdict writes a new line
with the same `answer_id`, which replaces the earlier one (`read_votes` reads a log that way), at
most `max_changes` times. One reason per verdict. `liked` must be a JSON boolean. Each client
address may send `votes_per_minute` verdicts and reasons a minute. Lines are capped; the file is
rotated at `max_bytes` (the full file becomes NAME.1, replacing the older one).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ui.settings import FEEDBACK_MAX_BYTES

MAX_ANSWER_CHARS = 2000
MAX_TITLE_CHARS = 200
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class FeedbackLimits:
    """How much feedback one client and one answer may give, and what the server remembers."""

    votes_per_minute: int = 20  # verdicts and reasons per client address
    max_changes: int = 3  # times one answer's verdict may change after the first
    max_line_bytes: int = 16 * 1024
    remembered_answers: int = 10_000  # answers that can be voted on (the most recent ones)
    remembered_clients: int = 10_000  # client addresses whose rate is tracked


def feedback_record(answer: dict[str, Any]) -> dict[str, Any]:
    """What the feedback log keeps of a reply: the question, the answer and the passages shown (ids
    and titles, not their text)."""
    return {
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


@dataclass
class _Vote:
    verdict: str
    changes: int
    line_id: str


class FeedbackLog:
    """The answers that can be voted on, and the log of votes (thread-safe); records nothing
    without a path."""

    def __init__(
        self,
        path: Path | None,
        max_bytes: int = FEEDBACK_MAX_BYTES,
        limits: FeedbackLimits = FeedbackLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.limits = limits
        self.rate = RateLimit(limits.votes_per_minute, limits.remembered_clients, clock)
        self._answers: OrderedDict[str, dict[str, Any]] = OrderedDict()  # answer_id -> feedback_record
        self._votes: dict[str, _Vote] = {}  # answer_id -> its current vote
        self._reasoned: set[str] = set()  # verdict lines that have their reason
        self._lock = threading.Lock()

    def remember(self, answer: dict[str, Any]) -> dict[str, Any]:
        """`answer` with a new `answer_id`; the server keeps what the log needs of it (the most
        recent `remembered_answers`), so a vote on it logs the server's record, not the page's."""
        answer_id = uuid.uuid4().hex
        if self.path is not None:
            with self._lock:
                self._answers[answer_id] = feedback_record(answer)
                while len(self._answers) > self.limits.remembered_answers:
                    old, _ = self._answers.popitem(last=False)
                    self._votes.pop(old, None)
        return {**answer, "answer_id": answer_id}

    def vote(self, answer_id: Any, liked: Any, client: str) -> tuple[str, str | None]:
        """Record `client`'s verdict (`liked`: True up, False down) on the answer `answer_id`.

        Returns what happened (recorded, replaced, unchanged, or refused: why) and the id of the
        answer's verdict line (for its reason), None when refused.
        """
        if self.path is None:
            return "refused: feedback is not recorded", None
        if not isinstance(liked, bool):
            return "refused: liked must be true or false", None
        verdict = "up" if liked else "down"
        with self._lock:
            record = self._answers.get(answer_id) if isinstance(answer_id, str) else None
            if record is None:
                return "refused: no such answer (or one this server no longer remembers)", None
            earlier = self._votes.get(answer_id)
            if earlier is not None and earlier.verdict == verdict:
                return "unchanged", earlier.line_id
            changes = 0 if earlier is None else earlier.changes + 1
            if changes > self.limits.max_changes:
                return "refused: this answer's verdict has changed too often", None
            if not self.rate.allow(client):
                return "refused: too many votes from this client; try again in a minute", None
            line_id = uuid.uuid4().hex
            entry = {"id": line_id, "answer_id": answer_id, "time": _now(), "verdict": verdict, **record}
            self._append(entry)
            self._votes[answer_id] = _Vote(verdict, changes, line_id)
        return ("recorded" if earlier is None else "replaced"), line_id

    def reason(self, line_id: Any, note: Any, client: str) -> str:
        """Record the reason `note` of the verdict line `line_id` (one per verdict); what happened."""
        if self.path is None:
            return "refused: feedback is not recorded"
        if not isinstance(note, str) or not note.strip():
            return "refused: no reason given"
        with self._lock:
            if not isinstance(line_id, str) or not any(v.line_id == line_id for v in self._votes.values()):
                return "refused: no such verdict"
            if line_id in self._reasoned:
                return "refused: this verdict has its reason"
            if not self.rate.allow(client):
                return "refused: too many votes from this client; try again in a minute"
            self._append({"id": line_id, "time": _now(), "reason": note.strip()[:MAX_REASON_CHARS]})
            self._reasoned.add(line_id)
            if len(self._reasoned) > self.limits.remembered_answers:
                self._reasoned.clear()  # forgetting lets an old verdict take a second reason, at worst
        return "recorded"

    def record(self, entry: dict[str, Any]) -> None:
        """Append `entry` as one JSON line (capped, rotating the file at `max_bytes`)."""
        if self.path is None:
            return
        with self._lock:
            self._append(entry)

    def _append(self, entry: dict[str, Any]) -> None:
        assert self.path is not None
        line = _capped_line(entry, min(self.limits.max_line_bytes, self.max_bytes))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        with self.path.open("ab") as handle:
            handle.write(line)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


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
            keep = ("id", "answer_id", "time", "verdict")
            return (json.dumps({k: entry[k] for k in keep if k in entry}) + "\n").encode()


def read_votes(path: Path) -> dict[str, dict[str, Any]]:
    """The vote of each answer in a feedback log (and its rotated older file): the last verdict
    line with its `answer_id`."""
    votes: dict[str, dict[str, Any]] = {}
    for part in (path.with_name(path.name + ".1"), path):
        if not part.exists():
            continue
        with part.open(encoding="utf-8") as handle:
            for line in handle:
                entry = json.loads(line)
                if "verdict" in entry:
                    votes[entry.get("answer_id") or entry.get("id") or str(len(votes))] = entry
    return votes


__all__ = ["FeedbackLimits", "FeedbackLog", "RateLimit", "feedback_record", "read_votes"]
