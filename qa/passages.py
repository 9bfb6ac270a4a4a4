"""Turning ranked chunks into passages: the copies of a reprinted story count as one chunk,
chunks answering with a sentence a better one holds move down, and overlapping chunks of one
article become one passage."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice, zip_longest

from index.store import LoadedIndex, StoredChunk
from index.text import SENTENCE_END
from qa.fuse import RRF_K, reciprocal_rank_fusion

# A piece of a chunk shorter than this (stripped) is not worth a passage of its own
MIN_PIECE_CHARS = 10
# Two chunks of different articles are copies of one text when at least this share of the
# characters of each are in sentences both hold (a news archive prints agency copy many times
# over, a paper adding a line of its own or leaving one out)
COPY_SHARE = 0.9
# Each retriever is searched this many times deeper than the candidates fusion keeps, so the
# places of the chunks `demote_echoes` moves down can be filled with ones that say something else
ECHO_DEPTH = 2
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


@dataclass(frozen=True)
class Collapsed:
    """What `collapse_copies` returns: the rankings with each text once, and the other copies
    of each chunk that stands for a text (by position, the best fused score of its own first;
    a chunk that stands for none is absent); and every ranked chunk, as read."""

    rankings: list[list[int]]
    copies: dict[int, tuple[int, ...]]
    chunks: dict[int, StoredChunk]


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


def collapse_copies(
    rankings: Sequence[Sequence[int]],
    index: LoadedIndex,
    weights: Sequence[float] | None = None,
    k: int = RRF_K,
) -> Collapsed:
    """The retrievers' rankings with every copy of a text (see COPY_SHARE) replaced by the copy
    the rankings agree on most, each once per ranking; and the copies each one stands for.

    A story reprinted thirty times then takes one rank of a list, not thirty, and the other
    chunks the list found move up. The copies keep counting for the text in fusion: when keyword
    search ranks one paper's copy first and dense search another's, the text both found leads,
    as a chunk both rank does. The copy that stands for them is the one with the highest fused
    score of its own (`reciprocal_rank_fusion` with these `weights` and `k`; the first seen,
    rank by rank, among equals): copies at COPY_SHARE may differ in a sentence, and the one both
    retrievers found is likelier to hold the sentence asked about than one only one of them
    ranked first. Chunks of one article overlap by design and are never copies.

    The copies a chunk stands for are kept (`Collapsed.copies`) so a reader can be told where
    else the text was printed: only the ones the rankings hold, as no other chunk is compared."""
    everything = list(dict.fromkeys(p for ranking in rankings for p in ranking))
    stored = dict(zip(everything, index.chunks.at(everything)))
    distinct = _Copies()
    first: dict[int, int] = {}  # each chunk's copy seen first (itself when it is the first)
    for row in zip_longest(*rankings):  # rank by rank, so the first copy is the best ranked
        for position in row:
            if position is None or position in first:
                continue
            chunk = stored[position].chunk
            sentences = _sentences(chunk.text)
            found = distinct.of(sentences, chunk.article_id)
            first[position] = position if found is None else found
            if found is None:
                distinct.add(position, sentences, chunk.article_id)
    copies: dict[int, tuple[int, ...]] = {}
    if any(first[p] != p for p in first):
        own = dict(reciprocal_rank_fusion(rankings, weights, k))
        texts: dict[int, list[int]] = {}  # each text's first copy -> its copies, in the order seen
        for position, seen in first.items():
            texts.setdefault(seen, []).append(position)
        for held in texts.values():
            best = sorted(held, key=lambda c: -own[c])  # stable: the first seen among equals
            first.update(dict.fromkeys(best, best[0]))
            if len(best) > 1:
                copies[best[0]] = tuple(best[1:])
    return Collapsed([list(dict.fromkeys(first[p] for p in ranking)) for ranking in rankings], copies, stored)


def demote_echoes(
    ranking: Sequence[int],
    chunks: dict[int, StoredChunk],
    weights: Mapping[str, float],
    keep: int,
    matches: dict[int, str | None] | None = None,
    deeper: Sequence[int] = (),
    read: Callable[[list[int]], Sequence[StoredChunk]] | None = None,
) -> list[int]:
    """The first `keep` chunks of a ranking once each echo is moved behind the chunks that are
    not echoes (their order otherwise kept).

    A chunk echoes a better-ranked chunk of another article when the sentence of it that best
    matches the question is that chunk's best-matching sentence too. A sentence matches by the
    question's keywords it holds (`weights`: keyword -> IDF; the sentence holding the most
    weight, the first among equals). An archive prints one sentence inside many stories that
    differ elsewhere: a spokesman's line, an agency's figure, a definition quoted in every
    report. These chunks are no copies (`collapse_copies`) and rank close together. Shown
    one after another, they would give the reader the same answer again, and push out the chunk
    that answers in other words. Chunks of one article overlap by design and never echo each
    other; a chunk holding none of the question's keywords echoes nothing.

    When echoes leave fewer than `keep` chunks that are not, the chunks ranked below the
    ranking, `deeper` (the same search gone further, ECHO_DEPTH), fill their places: read with
    `read` (a batch at a time, into `chunks`) and judged the same way. Only then, so a
    ranking without echoes costs nothing more. `matches` keeps each chunk's best-matching
    sentence for the next ranking of the same question (the other retriever's, the fused one)."""
    weights = {token: weight for token, weight in weights.items() if token and weight > 0}
    latin = any(c.isascii() for token in weights for c in token)
    matches = {} if matches is None else matches
    said: dict[str, str] = {}  # a best-matching sentence -> the article of its first chunk
    kept: list[int] = []
    echoes: list[int] = []

    def judge(position: int) -> None:
        chunk = chunks[position].chunk
        if position not in matches:
            matches[position] = _best_match(chunk.text, weights, latin)
        sentence = matches[position]
        if sentence is not None and said.setdefault(sentence, chunk.article_id) != chunk.article_id:
            echoes.append(position)
        else:
            kept.append(position)

    for position in ranking:
        judge(position)
        if len(kept) >= keep:
            return kept
    if echoes and read is not None:
        ranked = set(ranking)
        below = iter([p for p in deeper if p not in ranked])
        while len(kept) < keep and (batch := list(islice(below, keep - len(kept)))):
            unread = [p for p in batch if p not in chunks]  # another list's may have been read
            if unread:
                chunks.update(zip(unread, read(unread)))
            for position in batch:
                judge(position)
    return (kept + echoes)[:keep]


def _best_match(text: str, weights: Mapping[str, float], latin: bool = True) -> str | None:
    """The sentence of a text holding the most of the keywords' weight (the first among
    equals), its whitespace and end marks removed; None when no sentence holds any.

    Keywords come folded (index.text.fold). With `latin` keywords (letters or digits) the text
    is matched in NFKC and lower case, as full-width ＮＡＴＯ is nato; without, as it is: NFKC
    then changes only punctuation, at twenty times the cost of the rest. Not in simplified
    characters either, which would cost more still (a traditional text holds fewer keywords,
    and echoes less)."""
    text = "".join(text.split())
    if latin:
        text = unicodedata.normalize("NFKC", text).lower()
    held = [(token, weight) for token, weight in weights.items() if token in text]
    if not held:
        return None
    best, most = None, 0.0
    for sentence in _SENTENCE_END.split(text):
        weight = sum(w for token, w in held if token in sentence)
        if weight > most:
            best, most = sentence, weight
    return best


class _Copies:
    """The distinct chunks seen so far, by the sentences they hold."""

    def __init__(self) -> None:
        self.holders: dict[str, list[int]] = {}  # sentence -> the chunks holding it
        self.sentences: dict[int, set[str]] = {}
        self.size: dict[int, int] = {}  # chunk -> characters of its sentences
        self.article: dict[int, str] = {}

    def add(self, position: int, sentences: set[str], article_id: str) -> None:
        self.sentences[position] = sentences
        self.size[position] = sum(map(len, sentences))
        self.article[position] = article_id
        for sentence in sentences:
            self.holders.setdefault(sentence, []).append(position)

    def of(self, sentences: set[str], article_id: str) -> int | None:
        """The chunk of another article these sentences are a copy of, if any (the one
        sharing the most with them, the first seen among equals).

        Only the chunks holding one of the longest sentences are compared: one holding none of
        them lacks more than 1 - COPY_SHARE of the text (prefix filtering, as set-similarity
        joins do), and in an index of many near-copies a sentence may have dozens of holders."""
        total = sum(map(len, sentences))
        if not total:  # nothing but end marks: no text to be a copy of
            return None
        candidates: list[int] = []
        lacking = 0
        for sentence in sorted(sentences, key=len, reverse=True):
            candidates += self.holders.get(sentence, ())
            lacking += len(sentence)
            if lacking > (1 - COPY_SHARE) * total:
                break
        best: tuple[int, int] | None = None
        for position in dict.fromkeys(candidates):
            size = self.size[position]
            if self.article[position] == article_id or not COPY_SHARE * total <= size <= total / COPY_SHARE:
                continue
            held = self.sentences[position]
            shared = sum(len(sentence) for sentence in sentences if sentence in held)
            if shared >= COPY_SHARE * max(total, size) and (best is None or shared > best[0]):
                best = (shared, position)
        return None if best is None else best[1]


def _sentences(text: str) -> set[str]:
    """The sentences of a text without their end marks, its whitespace removed first (copies
    wrapped at other places are equal); a regular expression's split, as this runs on every
    chunk each retriever ranks."""
    return {s for s in _SENTENCE_END.split("".join(text.split())) if s}


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
