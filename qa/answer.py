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

from index.text import fold, split_sentences, tokenize, words
from qa.cite import Span, merge_spans
from qa.expect import expected_kind, holds


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a candidate passage, with its keyword coverage of the question."""

    passage: int
    span: Span
    coverage: float
    relevance: float
    typed: bool = False  # holds the kind of thing asked for (qa.expect): a number for 多少…
    open_end: bool = False  # ends in ；or ：: what follows completes it (a list, a quotation)
    overlap: float = 0.0  # share of the question's characters beyond its passage's title the sentence holds

    @property
    def score(self) -> float:
        # Coverage decides; holding what is asked for, then the passage's relevance (0..1),
        # then the characters it shares with the question decide between sentences that
        # cover the question about as well.
        return (
            self.coverage
            + TYPED_BONUS * self.typed
            + RELEVANCE_WEIGHT * self.relevance
            + OVERLAP_WEIGHT * self.overlap
        )


TYPED_BONUS = 0.15
RELEVANCE_WEIGHT = 0.3
OVERLAP_WEIGHT = 0.25
CONTINUED = 20  # an answer sentence shorter than this, or ending in ；or ：, takes the next one too

# Question words never occur in the answer, so tokens made of them only dilute coverage.
_INTERROGATIVE = re.compile(r"[哪吗呢谁么]|多少|如何|何时|何处|为何|几[个岁年次种条位天]")
# Characters that say nothing of what a question asks: function words, question words.
_PLAIN_CHARS = frozenset("的是了在有和与及之也而就都又还被把将为于以其这那个些么什吗呢哪谁几多少怎样如何何")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def question_tokens(question: str) -> list[str]:
    """The question's keyword tokens without the ones that carry its question words."""
    return [t for t in tokenize(question) if not _INTERROGATIVE.search(t)]


def question_words(question: str) -> list[str]:
    """The words of `question_tokens`, without the `#`-marked bigrams (the keyword index's
    own, which never occur in a text as they are)."""
    return [t for t in words(question) if not _INTERROGATIVE.search(t)]


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
    asked: str = "",
) -> list[ScoredSentence]:
    """Score every sentence of every passage against the question (`asked`: the question as
    the reader wrote it, when `question` is what keyword search reads, e.g. its Chinese
    renderings; it tells what kind of answer is asked for).

    A passage's context (its article title and section) counts as part of each of its
    sentences: a sentence rarely repeats the subject its article is about ("它的面积约为…").
    """
    tokens = question_tokens(question)
    kind = expected_kind(asked or question)
    contexts = contexts or [""] * len(passages)
    chars = char_set(question) - _PLAIN_CHARS
    scored = []
    for i, (text, rel, context) in enumerate(zip(passages, relevance, contexts)):
        shared = token_set(context)
        # what the question asks beyond the subject its passage is about: 身体, 颜色 in
        # "黄鳍紫鱼的身体是什么颜色的？" under the title 黄鳍紫鱼, held by "体呈淡蓝红色"
        focus = chars - char_set(context)
        for span in split_sentences(text):
            sentence = text[span[0] : span[1]]
            cov = coverage(tokens, token_set(sentence) | shared, idf)
            typed = kind != "any" and holds(kind, sentence, asked or question)
            open_end = sentence.rstrip()[-1:] in ("；", ";", "：", ":")
            overlap = len(focus & char_set(sentence)) / len(focus) if focus else 0.0
            scored.append(ScoredSentence(i, span, cov, rel, typed, open_end, overlap))
    return scored


@lru_cache(maxsize=200_000)
def token_set(text: str) -> frozenset[str]:
    """The keyword tokens of a corpus sentence or heading, cached: the same sentences come
    back question after question, and segmenting them was a third of the time of `ask`."""
    return frozenset(tokenize(text)) if text else frozenset()


@lru_cache(maxsize=200_000)
def char_set(text: str) -> frozenset[str]:
    """The Chinese characters of a text, folded to simplified (a traditional corpus shares
    體 with a question asking 体), cached as `token_set` is."""
    return frozenset(_CJK.findall(fold(text))) if text else frozenset()


def best_sentences(scored: Sequence[ScoredSentence], limit: int = 2) -> list[ScoredSentence]:
    """The best sentence, plus the next one when it is short and follows directly."""
    if not scored:
        return []
    best = max(scored, key=lambda s: (s.score, -s.passage, -s.span[0]))
    chosen = [best]
    if limit > 1 and (best.span[1] - best.span[0] < CONTINUED or best.open_end):
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
