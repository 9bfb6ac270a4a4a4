"""Built-in evaluation: answer recall@k, MRR, answer-line hits, abstention, latency.

Reads JSONL lines {question, answers, type?, history?}; an answer is found in a passage when
the passage contains it after NFKC and whitespace removal. Questions with no answers are
unanswerable: the bot should abstain on them.
"""

from __future__ import annotations

import json
import statistics
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.cite import Answer

RECALL_KS = (1, 5, 10)


@dataclass(frozen=True)
class EvalItem:
    """One evaluation question."""

    question: str
    answers: tuple[str, ...]
    type: str
    history: tuple[str, ...] = ()
    id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """How the bot did on one item."""

    item: EvalItem
    rank: int | None  # 1-based rank of the first passage containing an answer
    line_hit: bool
    abstained: bool
    seconds: float


def squash(text: str) -> str:
    """NFKC with all whitespace removed: the form answers are matched in."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def read_items(path: Path) -> list[EvalItem]:
    """Read evaluation items from a JSONL file."""
    items = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row.get("question"), str):
                # a bad line of the file, not a caller's type error: ValueError like the others here
                raise ValueError(f"{path}:{lineno}: each line needs a string 'question'")  # noqa: TRY004
            answers = tuple(row.get("answers") or ())
            kind = row.get("type") or ("unanswerable" if not answers else "answerable")
            items.append(
                EvalItem(
                    row["question"],
                    answers,
                    kind,
                    tuple(row.get("history") or ()),
                    row.get("id") or row.get("qid"),
                )
            )
    return items


def judge(item: EvalItem, answer: Answer, seconds: float) -> Outcome:
    """Compare one answer with the item's gold answers."""
    gold = [squash(a) for a in item.answers if squash(a)]
    rank = None
    for passage in answer.passages:
        if any(g in squash(passage.text) for g in gold):
            rank = passage.rank
            break
    line = answer.answer or ""
    line_hit = bool(line) and any(g in squash(line) for g in gold)
    return Outcome(item, rank, line_hit, answer.abstained, seconds)


def run(bot, items: Iterable[EvalItem], k: int = 10) -> list[Outcome]:
    """Ask every item (with its history) and judge the answers."""
    outcomes = []
    for item in items:
        started = time.perf_counter()
        answer = bot.ask(item.question, top_k=k, history=list(item.history))
        outcomes.append(judge(item, answer, time.perf_counter() - started))
    return outcomes


def failure(outcome: Outcome, k: int = 5) -> str | None:
    """What went wrong with one question, or None: "not found" (no gold answer in the first k
    passages), "false abstention" (found, but the bot said the articles do not answer), or
    "answered" (an unanswerable question given an answer)."""
    if not outcome.item.answers:
        return None if outcome.abstained else "answered"
    if outcome.rank is None or outcome.rank > k:
        return "not found"
    return "false abstention" if outcome.abstained else None


def metrics(outcomes: Sequence[Outcome], ks: Sequence[int] = RECALL_KS) -> dict[str, Any]:
    """Figures for one group of outcomes."""
    answerable = [o for o in outcomes if o.item.answers]
    unanswerable = [o for o in outcomes if not o.item.answers]
    out: dict[str, Any] = {"questions": len(outcomes), "answerable": len(answerable)}
    if answerable:
        n = len(answerable)
        for k in ks:
            out[f"recall@{k}"] = sum(o.rank is not None and o.rank <= k for o in answerable) / n
        out["mrr@10"] = sum(1 / o.rank for o in answerable if o.rank and o.rank <= 10) / n
        out["answer_line_hit"] = sum(o.line_hit for o in answerable) / n
        out["false_abstentions"] = sum(o.abstained for o in answerable)
        out["false_abstention_rate"] = out["false_abstentions"] / n
    if unanswerable:
        abstained = sum(o.abstained for o in unanswerable)
        all_abstained = sum(o.abstained for o in outcomes)
        out["unanswerable"] = len(unanswerable)
        out["abstention_recall"] = abstained / len(unanswerable)
        out["abstention_precision"] = abstained / all_abstained if all_abstained else None
    times = sorted(o.seconds * 1000 for o in outcomes)
    if times:
        out["latency_ms_p50"] = statistics.median(times)
        out["latency_ms_p95"] = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return out


def report(outcomes: Sequence[Outcome], ks: Sequence[int] = RECALL_KS) -> dict[str, Any]:
    """Figures overall and per question type."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.item.type].append(o)
    return {
        "overall": metrics(outcomes, ks),
        "by_type": {t: metrics(g, ks) for t, g in sorted(groups.items())},
    }


def format_report(figures: dict[str, Any]) -> str:
    """A plain table of the figures."""
    columns = [
        "questions",
        "recall@1",
        "recall@5",
        "recall@10",
        "mrr@10",
        "answer_line_hit",
        "false_abstentions",
        "abstention_recall",
        "abstention_precision",
        "latency_ms_p50",
        "latency_ms_p95",
    ]
    rows = [("overall", figures["overall"]), *figures["by_type"].items()]
    header = f"{'type':<14}" + "".join(f"{c:>12}" for c in _short(columns))
    lines = [header]
    for name, row in rows:
        lines.append(f"{name:<14}" + "".join(f"{_cell(row.get(c)):>12}" for c in columns))
    return "\n".join(lines)


def _short(columns: Sequence[str]) -> list[str]:
    names = {
        "answer_line_hit": "line_hit",
        "false_abstentions": "false_abst",
        "abstention_recall": "abst_recall",
        "abstention_precision": "abst_prec",
        "latency_ms_p50": "p50_ms",
        "latency_ms_p95": "p95_ms",
        "questions": "n",
    }
    return [names.get(c, c) for c in columns]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1 else f"{value:.1f}"
    return str(value)
