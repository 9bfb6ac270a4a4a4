"""Turning ranked chunks into passages: overlapping chunks of one article become one passage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.store import LoadedIndex

# A piece of a chunk shorter than this (stripped) is not worth a passage of its own
MIN_PIECE_CHARS = 10


@dataclass(frozen=True)
class Ranked:
    """A chunk after fusion: its position in the index, fused score and best cosine to the question."""

    position: int
    fused: float
    cosine: float


@dataclass(frozen=True)
class Candidate:
    """A merged span of one article found by retrieval."""

    article_id: str
    start: int
    end: int
    positions: tuple[int, ...]
    fused: float
    relevance: float


def merge_candidates(
    ranked: Sequence[Ranked], index: LoadedIndex, top_k: int, max_chars: int = 700
) -> list[Candidate]:
    """Merge overlapping chunks of the same article into one passage, keeping fused order.

    A chunk that overlaps passages already chosen is merged with all of them (they may only
    touch through it). When the merged passage would exceed `max_chars`, the chunk's text that
    no chosen passage holds becomes a passage of its own (a chunk's overlap is whole sentences,
    so it starts and ends where they do): dropping the chunk lost the answer whenever it sat in
    a chunk ranked below both of its neighbours. No text is ever returned twice.
    """
    merged: list[Candidate] = []
    for item in ranked:
        chunk = index.chunks[item.position].chunk
        hits = [
            i
            for i, other in enumerate(merged)
            if other.article_id == chunk.article_id and chunk.start < other.end and other.start < chunk.end
        ]
        if not hits:
            if len(merged) < top_k:
                merged.append(
                    Candidate(
                        chunk.article_id, chunk.start, chunk.end, (item.position,), item.fused, item.cosine
                    )
                )
            continue
        group = [merged[i] for i in hits]
        start = min(chunk.start, *(c.start for c in group))
        end = max(chunk.end, *(c.end for c in group))
        if end - start > max_chars:
            # merging would make an unreadably long passage: keep what the others lack
            text = index.articles[chunk.article_id].text
            for lo, hi in uncovered(chunk.start, chunk.end, [(c.start, c.end) for c in group]):
                if len(merged) < top_k and len(text[lo:hi].strip()) >= MIN_PIECE_CHARS:
                    merged.append(
                        Candidate(chunk.article_id, lo, hi, (item.position,), item.fused, item.cosine)
                    )
            continue
        first = group[0]
        positions = tuple(p for c in group for p in c.positions) + (item.position,)
        relevance = max(item.cosine, *(c.relevance for c in group))
        merged[hits[0]] = Candidate(first.article_id, start, end, positions, first.fused, relevance)
        for i in reversed(hits[1:]):
            del merged[i]
    return merged


def uncovered(start: int, end: int, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of start..end outside every span, in order."""
    pieces: list[tuple[int, int]] = []
    at = start
    for lo, hi in sorted(spans):
        if lo > at:
            pieces.append((at, min(lo, end)))
        at = max(at, hi)
        if at >= end:
            break
    if at < end:
        pieces.append((at, end))
    return [(lo, hi) for lo, hi in pieces if lo < hi]
