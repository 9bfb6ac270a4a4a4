"""Ranked chunks into passages: merging overlapping chunks, and what a chunk too long to merge keeps."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

from qa.passages import Ranked, merge_candidates, uncovered

# One article of six sentences; chunks reach back over one sentence, as the index cuts them
SENTENCES = [
    "甲" * 99 + "。",
    "乙" * 99 + "。",
    "丙" * 99 + "。",
    "丁" * 99 + "。",
    "戊" * 99 + "。",
    "己" * 99 + "。",
]
TEXT = "".join(SENTENCES)


def _index(spans: list[tuple[int, int]]) -> Any:
    chunks = [SimpleNamespace(chunk=SimpleNamespace(article_id="a", start=s, end=e)) for s, e in spans]
    return SimpleNamespace(chunks=chunks, articles={"a": SimpleNamespace(text=TEXT)})


def _ranked(*positions: int) -> list[Ranked]:
    return [Ranked(p, 1.0 / (i + 1), 0.5) for i, p in enumerate(positions)]


# chunk 0: sentences 0-1; 1: 1-3 (reaching back over 1); 2: 3-5 (reaching back over 3)
CHUNKS = [(0, 200), (100, 400), (300, 600)]


def test_overlapping_chunks_merge_into_one_passage_in_fused_order():
    passages = merge_candidates(_ranked(1, 0), _index(CHUNKS), top_k=5)
    assert [(p.start, p.end, p.positions) for p in passages] == [(0, 400, (1, 0))]


def test_a_chunk_too_long_to_merge_keeps_the_text_no_passage_holds():
    # chunks 0 and 2 are chosen first; chunk 1 joins them, but 0-600 is over max_chars
    passages = merge_candidates(_ranked(0, 2, 1), _index(CHUNKS), top_k=5, max_chars=450)
    spans = [(p.start, p.end) for p in passages]
    assert spans == [(0, 200), (300, 600), (200, 300)]
    assert TEXT[200:300] == SENTENCES[2], "the piece is the chunk's own sentence, whole"
    assert passages[2].positions == (1,)
    covered = sorted(spans)
    assert all(a[1] <= b[0] for a, b in pairwise(covered)), "no text is returned twice"


def test_a_piece_is_kept_only_while_there_is_room_and_only_if_it_has_text():
    assert len(merge_candidates(_ranked(0, 2, 1), _index(CHUNKS), top_k=2, max_chars=450)) == 2
    # the second chunk adds only 5 characters to the first: too few for a passage
    spans = [(0, 200), (150, 205)]
    passages = merge_candidates(_ranked(0, 1), _index(spans), top_k=5, max_chars=200)
    assert [(p.start, p.end) for p in passages] == [(0, 200)]


def test_uncovered_parts():
    assert uncovered(0, 10, []) == [(0, 10)]
    assert uncovered(0, 10, [(2, 4), (6, 8)]) == [(0, 2), (4, 6), (8, 10)]
    assert uncovered(3, 7, [(0, 5), (4, 9)]) == []
    assert uncovered(3, 7, [(5, 6), (0, 4)]) == [(4, 5), (6, 7)]
