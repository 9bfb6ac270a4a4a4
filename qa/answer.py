"""Pick the answering sentence inside the retrieved passages, and decide when to abstain.

No language model: a sentence is scored by how much of the question's weighted keywords it
covers (IDF from the keyword index), with the passage's own relevance as a tie-breaker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.keyword import tokenize

Span = tuple[int, int]
_SENTENCE = re.compile(r"[^。！？!?；;\n]+(?:[。！？!?；;]+[”’」』）)\"']*|$)|[。！？!?；;]+")


def split_sentences(text: str) -> list[Span]:
    """Spans of the sentences of `text` (closing quotes stay with their sentence)."""
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


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


def coverage(question_tokens: Sequence[str], sentence: str, idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's distinct tokens that occur in the sentence."""
    wanted = set(question_tokens)
    if not wanted:
        return 0.0
    present = set(tokenize(sentence)) & wanted
    total = sum(idf(t) for t in wanted)
    return sum(idf(t) for t in present) / total if total else 0.0


def score_sentences(
    question: str, passages: Sequence[str], relevance: Sequence[float], idf: Callable[[str], float]
) -> list[ScoredSentence]:
    """Score every sentence of every passage against the question."""
    tokens = tokenize(question)
    scored = []
    for i, (text, rel) in enumerate(zip(passages, relevance)):
        for span in split_sentences(text):
            cov = coverage(tokens, text[span[0] : span[1]], idf)
            scored.append(ScoredSentence(i, span, cov, rel))
    return scored


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
