"""Check the hand-written evaluation sets of issue 11: shape, ids, and answers verbatim in the text.

An answer counts as verbatim when, after NFKC and removing all whitespace, it is a substring of
the text it comes from (the sample article with its hard line breaks removed, or the CMRC
passage named by ``passage_id``), which is how ``qa eval`` matches answers.

Usage (from the repository root)::

    .venv/bin/python eval/check_sets.py
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path

EVAL = Path(__file__).resolve().parent
SAMPLE = EVAL.parent / "index" / "data" / "sample" / "000_40a999470f34a1c1.txt"
CMRC = EVAL.parent.parent / "shared" / "eval" / "cmrc2018_trial" / "passages.jsonl"
ANSWERABLE_TYPES = {"factoid", "paraphrase", "crosslingual", "multiturn", "traditional"}
KINDS = {"near-domain", "near-miss", "off-topic", "english", "follow-up"}


def squash(text: str) -> str:
    """NFKC with all whitespace removed: the form answers are matched in."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def read(name: str) -> list[dict]:
    """Read one eval file; every line must be a JSON object."""
    with (EVAL / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def common(name: str, rows: list[dict], fields: set[str]) -> list[str]:
    """Problems shared by every set: fields, unique ids, unique questions, history shape."""
    problems = []
    ids = Counter(r.get("id") for r in rows)
    problems += [f"{name}: duplicate id {i}" for i, n in ids.items() if n > 1]
    asked = Counter((tuple(r.get("history", ())), r.get("question")) for r in rows)
    problems += [f"{name}: duplicate question {q[1]}" for q, n in asked.items() if n > 1]
    for r in rows:
        if not fields <= set(r) or set(r) - fields - {"history"}:
            problems.append(f"{name}: {r.get('id')} has fields {sorted(r)}")
        if not isinstance(r.get("question"), str) or not r["question"].strip():
            problems.append(f"{name}: {r.get('id')} has no question")
        history = r.get("history", ["x"])
        if not isinstance(history, list) or not history or not all(isinstance(h, str) and h for h in history):
            problems.append(f"{name}: {r.get('id')} has a bad history")
    return problems


def check_answerable(name: str, rows: list[dict], text_of) -> list[str]:
    """Answerable rows: a known type and every answer verbatim in its text."""
    problems = []
    for r in rows:
        if r.get("type") not in ANSWERABLE_TYPES or not r.get("answers"):
            problems.append(f"{name}: {r['id']} type {r.get('type')} / answers {r.get('answers')}")
        if (r.get("type") == "multiturn") != ("history" in r):
            problems.append(f"{name}: {r['id']} history goes with type multiturn only")
        text = text_of(r)
        for answer in r.get("answers", []):
            if text is None or not squash(answer) or squash(answer) not in text:
                problems.append(f"{name}: {r['id']} answer not in its text: {answer}")
    return problems


def check_unanswerable(name: str, rows: list[dict], passages: dict[str, str] | None) -> list[str]:
    """Unanswerable rows: empty answers, a known kind, a reason, a real passage id if any."""
    problems = []
    for r in rows:
        if r.get("answers") != [] or r.get("type") != "unanswerable" or r.get("kind") not in KINDS:
            problems.append(f"{name}: {r['id']} answers/type/kind")
        if not r.get("why"):
            problems.append(f"{name}: {r['id']} has no 'why'")
        if (r.get("kind") == "follow-up") != ("history" in r):
            problems.append(f"{name}: {r['id']} history goes with kind follow-up only")
        if passages is not None and r.get("passage_id") is not None and r["passage_id"] not in passages:
            problems.append(f"{name}: {r['id']} unknown passage {r['passage_id']}")
        if passages is not None and r.get("passage_id") is None and r.get("kind") != "off-topic":
            problems.append(f"{name}: {r['id']} needs a passage_id")
    return problems


def main() -> int:
    """Check every set and print counts; exit 1 on any problem."""
    sample = squash(SAMPLE.read_text(encoding="utf-8"))
    with CMRC.open(encoding="utf-8") as handle:
        passages = {row["id"]: squash(row["text"]) for row in map(json.loads, handle)}
    sets = [
        ("sample_answerable.jsonl", {"id", "question", "answers", "type"}, "answerable", lambda r: sample),
        ("sample_unanswerable.jsonl", {"id", "question", "answers", "type", "kind", "why"}, None, None),
        (
            "cmrc_near_unanswerable.jsonl",
            {"id", "question", "answers", "type", "kind", "why", "passage_id"},
            passages,
            None,
        ),
        (
            "sample_answerable_fresh.jsonl",
            {"id", "question", "answers", "type"},
            "answerable",
            lambda r: sample,
        ),
        ("sample_unanswerable_fresh.jsonl", {"id", "question", "answers", "type", "kind", "why"}, None, None),
        (
            "cmrc_near_unanswerable_fresh.jsonl",
            {"id", "question", "answers", "type", "kind", "why", "passage_id"},
            passages,
            None,
        ),
        (
            "cmrc_english_more.jsonl",
            {"id", "question", "answers", "type", "passage_id"},
            "answerable",
            lambda r: passages.get(r.get("passage_id")),
        ),
    ]
    problems = []
    for name, fields, mode, text_of in sets:
        rows = read(name)
        problems += common(name, rows, fields)
        if mode == "answerable":
            problems += check_answerable(name, rows, text_of)
            counts = Counter(r.get("type") for r in rows)
        else:
            problems += check_unanswerable(name, rows, mode)
            counts = Counter(r.get("kind") for r in rows)
        print(f"{name}: {len(rows)} rows, {dict(counts)}")
    earlier = {r["question"].casefold() for r in read("cmrc_english.jsonl")}
    problems += [
        f"repeats cmrc_english.jsonl: {r['question']}"
        for r in read("cmrc_english_more.jsonl")
        if r["question"].casefold() in earlier
    ]
    # the fresh sets are held out: none of their questions may repeat one of the fitting sets
    for fresh, fitted in [
        ("sample_answerable_fresh.jsonl", "sample_answerable.jsonl"),
        ("sample_unanswerable_fresh.jsonl", "sample_unanswerable.jsonl"),
        ("cmrc_near_unanswerable_fresh.jsonl", "cmrc_near_unanswerable.jsonl"),
    ]:
        seen = {r["question"] for r in read(fitted)}
        problems += [
            f"{fresh} repeats {fitted}: {r['question']}" for r in read(fresh) if r["question"] in seen
        ]
    for problem in problems:
        print("problem:", problem)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
