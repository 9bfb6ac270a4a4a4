"""Turning ranked chunks into passages: overlapping chunks of one article become one passage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.store import LoadedIndex


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

    A chunk that overlaps a passage already chosen is merged into it, or dropped when the
    merged passage would exceed `max_chars`; it is never returned twice.
    """
    merged: list[Candidate] = []
    for item in ranked:
        chunk = index.chunks[item.position].chunk
        for i, other in enumerate(merged):
            if other.article_id == chunk.article_id and chunk.start < other.end and other.start < chunk.end:
                if max(other.end, chunk.end) - min(other.start, chunk.start) > max_chars:
                    break  # merging would make an unreadably long passage: drop the lower-ranked chunk
                merged[i] = Candidate(
                    other.article_id,
                    min(other.start, chunk.start),
                    max(other.end, chunk.end),
                    (*other.positions, item.position),
                    other.fused,
                    max(other.relevance, item.cosine),
                )
                break
        else:
            if len(merged) >= top_k:
                continue
            merged.append(
                Candidate(chunk.article_id, chunk.start, chunk.end, (item.position,), item.fused, item.cosine)
            )
    return merged
