"""Turning ranked chunks into passages: overlapping chunks of one article become one passage,
and a chunk whose sentences the passages already shown mostly hold (a reprint) is left out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from index.store import LoadedIndex
from index.text import SENTENCE_END

# A piece of a chunk shorter than this (stripped) is not worth a passage of its own
MIN_PIECE_CHARS = 10
# A chunk of another article is a repeat when at least this share of its sentences' characters
# are in sentences the passages chosen before it already hold (a news archive reprints agency
# copy many times over, and five copies of one paragraph would fill the top 5)
REPEAT_SHARE = 0.5
MANY = "\0"  # no article's id: a sentence chosen from several articles
_SENTENCE_END = re.compile(SENTENCE_END.pattern + "+")


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

    A chunk that would start a passage is skipped when REPEAT_SHARE or more of it repeats
    sentences of the passages chosen before it (the same story in other articles): the slot
    goes to the next chunk that says something else.
    """
    merged: list[Candidate] = []
    shown = Shown()
    for item in ranked:
        chunk = index.chunks[item.position].chunk
        hits = [
            i
            for i, other in enumerate(merged)
            if other.article_id == chunk.article_id and chunk.start < other.end and other.start < chunk.end
        ]
        sentences = _sentences(chunk.text)
        if not hits:
            if len(merged) < top_k and not shown.repeats(sentences, chunk.article_id):
                merged.append(
                    Candidate(
                        chunk.article_id, chunk.start, chunk.end, (item.position,), item.fused, item.cosine
                    )
                )
                shown.add(sentences, chunk.article_id)
            continue
        shown.add(sentences, chunk.article_id)
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


def drop_repeats(positions: Sequence[int], index: LoadedIndex) -> list[int]:
    """A retriever's ranking without the chunks that mostly repeat sentences of other articles'
    chunks ranked above them (see REPEAT_SHARE): a story reprinted thirty times then takes one
    rank of the list, not thirty, and fusion weighs the other chunks the list found by their
    rank among distinct texts. Chunks of one article overlap by design and are kept."""
    kept: list[int] = []
    shown = Shown()
    for position, stored in zip(positions, index.chunks.at(positions)):
        chunk = stored.chunk
        sentences = _sentences(chunk.text)
        if not shown.repeats(sentences, chunk.article_id):
            kept.append(position)
            shown.add(sentences, chunk.article_id)
    return kept


class Shown:
    """The sentences of the chunks chosen so far, each with the article it was chosen from
    (MANY when from more than one)."""

    def __init__(self) -> None:
        self.article: dict[str, str] = {}

    def add(self, sentences: Iterable[str], article_id: str) -> None:
        for sentence in sentences:
            if self.article.setdefault(sentence, article_id) != article_id:
                self.article[sentence] = MANY

    def repeats(self, sentences: Sequence[str], article_id: str) -> bool:
        """True when REPEAT_SHARE or more of the sentences' characters were chosen from other articles."""
        total = repeated = 0
        for sentence in sentences:
            total += len(sentence)
            if self.article.get(sentence, article_id) != article_id:
                repeated += len(sentence)
        return total > 0 and repeated >= REPEAT_SHARE * total


def _sentences(text: str) -> list[str]:
    """The sentences of a text without their end marks, its whitespace removed first (copies
    of one sentence wrapped at other places are equal); a regular expression's split, as this
    runs on every chunk each retriever ranks."""
    return [s for s in _SENTENCE_END.split("".join(text.split())) if s]


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
