"""Pick the answering sentence inside the retrieved passages, and the highlights.

No language model: a sentence is scored by how much of the question's weighted keywords it
covers (IDF from the keyword index), with the passage's own relevance as a tie-breaker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

from index.text import split_sentences, tokenize
from qa.cite import Span, merge_spans


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a candidate passage, with its keyword coverage of the question."""

    passage: int
    span: Span
    coverage: float
    relevance: float

    @property
    def score(self) -> float:
        # Coverage decides; the passage's relevance (0..1) only breaks near-ties.
        return self.coverage + 0.15 * self.relevance


# Question words never occur in the answer, so tokens made of them only dilute coverage.
_INTERROGATIVE = re.compile(r"[哪吗呢谁么]|多少|如何|何时|何处|为何|几[个岁年次种条位天]")


def question_tokens(question: str) -> list[str]:
    """The question's keyword tokens without the ones that carry its question words."""
    return [t for t in tokenize(question) if not _INTERROGATIVE.search(t)]


def coverage(
    question_tokens: Sequence[str], sentence_tokens: AbstractSet[str], idf: Callable[[str], float]
) -> float:
    """IDF-weighted share of the question's distinct tokens that occur in the sentence."""
    wanted = set(question_tokens)
    total = sum(idf(t) for t in wanted)
    if not total:
        return 0.0
    return sum(idf(t) for t in wanted & sentence_tokens) / total


def score_sentences(
    question: str,
    passages: Sequence[str],
    relevance: Sequence[float],
    idf: Callable[[str], float],
    contexts: Sequence[str] | None = None,
) -> list[ScoredSentence]:
    """Score every sentence of every passage against the question.

    A passage's context (its article title and section) counts as part of each of its
    sentences: a sentence rarely repeats the subject its article is about ("它的面积约为…").
    """
    tokens = question_tokens(question)
    contexts = contexts or [""] * len(passages)
    scored = []
    for i, (text, rel, context) in enumerate(zip(passages, relevance, contexts)):
        shared = token_set(context)
        for span in split_sentences(text):
            cov = coverage(tokens, token_set(text[span[0] : span[1]]) | shared, idf)
            scored.append(ScoredSentence(i, span, cov, rel))
    return scored


@lru_cache(maxsize=200_000)
def token_set(text: str) -> frozenset[str]:
    """The keyword tokens of a corpus sentence or heading, cached: the same sentences come
    back question after question, and segmenting them was a third of the time of `ask`."""
    return frozenset(tokenize(text)) if text else frozenset()


def best_sentences(scored: Sequence[ScoredSentence], limit: int = 2) -> list[ScoredSentence]:
    """The best sentence, plus the next one when it is short and follows directly."""
    if not scored:
        return []
    best = max(scored, key=lambda s: (s.score, -s.passage, -s.span[0]))
    chosen = [best]
    if limit > 1 and best.span[1] - best.span[0] < 12:
        following = [s for s in scored if s.passage == best.passage and s.span[0] > best.span[1]]
        if following:
            chosen.append(min(following, key=lambda s: s.span[0]))
    return chosen


def highlight_spans(
    scored: Sequence[ScoredSentence], chosen: Sequence[ScoredSentence], n: int
) -> list[tuple[Span, ...]]:
    """Highlights per passage: the answer sentences, and elsewhere each passage's own best
    sentence when it covers at least half as much of the question as the answer does."""
    spans: list[list[Span]] = [[] for _ in range(n)]
    for s in chosen:
        spans[s.passage].append(s.span)
    floor = 0.5 * max((s.coverage for s in chosen), default=1.0)
    for i in range(n):
        own = [s for s in scored if s.passage == i]
        if not spans[i] and own:
            best = max(own, key=lambda s: s.score)
            if best.coverage >= floor and best.coverage > 0:
                spans[i].append(best.span)
    return [merge_spans(s) for s in spans]
