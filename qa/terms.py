"""The terms a question asks about, and whether an answer sentence covers them.

A question's terms are its precise-mode words (index.text.terms) without question words.
A term is covered by a sentence when the sentence (or its passage's title and section) holds
the word or every character bigram of it, so a name jieba cuts differently in the question
and in the article still counts. A term the corpus never contains, as a word or through its
bigrams, is *absent*: the strongest sign that the articles do not answer the question, so it
is never dropped from the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

from index.text import bigrams, terms

# Question words never occur in the answer, so terms made of them say nothing.
INTERROGATIVE = re.compile(r"[哪吗呢谁么]|多少|如何|何时|何处|为何|几[个岁年次种条位天]")
# Words that frame a question without naming what it is about.
FRAMING = frozenset(
    "叫 叫做 称为 称作 有 没有 会 能 能够 可以 要 需要 应该 做 进行 发生 出现 位于 属于 包括 包含 主要 "
    "具体 分别 一下 一共 总共 到底 究竟 目前 现在 今天 今年 请 问 告诉 知道 介绍 说说 讲讲 "
    "tell me please know describe explain".split()
)


@dataclass(frozen=True)
class Term:
    """One term of a question, with its keyword tokens."""

    word: str
    tokens: tuple[str, ...]  # the word itself, and its `#`-marked bigrams for Chinese words


def question_terms(question: str) -> list[Term]:
    """The distinct terms a question asks about, in order."""
    seen: dict[str, Term] = {}
    for word in terms(question):
        if word in seen or word in FRAMING or INTERROGATIVE.search(word):
            continue
        grams = tuple("#" + b for b in bigrams(word)) if len(word) > 1 else ()
        seen[word] = Term(word, grams)
    return list(seen.values())


def covered(term: Term, tokens: Collection[str]) -> bool:
    """True when `tokens` (of a sentence and its context) hold the term or all its bigrams."""
    return term.word in tokens or (bool(term.tokens) and all(t in tokens for t in term.tokens))


def known(term: Term, vocabulary: Callable[[str], bool]) -> bool:
    """True when the corpus holds the term as a word or through all its bigrams."""
    return vocabulary(term.word) or (bool(term.tokens) and all(vocabulary(t) for t in term.tokens))


def term_weight(term: Term, idf: Callable[[str], float], vocabulary: Callable[[str], bool]) -> float:
    """The term's IDF: the word's when the corpus has it, else its rarest bigram's (an absent
    term gets the highest IDF there is)."""
    if vocabulary(term.word) or not term.tokens:
        return idf(term.word)
    return max(idf(t) for t in term.tokens)


@lru_cache(maxsize=20_000)
def _pos(word: str) -> str:
    import jieba.posseg

    pairs = jieba.posseg.lcut(word)
    return pairs[0].flag if len(pairs) == 1 else ""


ENTITY_TAGS = {
    "j": "org",  # abbreviations: 欧盟, 东盟, 北约
    "ns": "place",
    "nr": "person",
    "nrfg": "person",
    "nrt": "person",
    "nt": "org",
    "nz": "name",
    "m": "number",
    "t": "time",
}


def entity_kind(word: str) -> str | None:
    """The kind of name a word is (place, person, org, name, number, time), or None."""
    if word.isdigit():
        return "number"
    return ENTITY_TAGS.get(_pos(word))


def follow_up_terms(question: Sequence[Term], previous: Sequence[Term]) -> list[Term]:
    """The terms of a follow-up read with the previous question: the follow-up's own terms,
    plus the previous question's, except names of a kind the follow-up replaces
    ("那吉尔吉斯斯坦呢？" after a question about 哈萨克斯坦 drops 哈萨克斯坦)."""
    replaced = {entity_kind(t.word) for t in question} - {None}
    own = {t.word for t in question}
    kept = [t for t in previous if t.word not in own and entity_kind(t.word) not in replaced]
    return [*question, *kept]


NAME_KINDS = frozenset({"place", "person", "org", "name"})


def absent_names(question_terms: Sequence[Term], vocabulary: Callable[[str], bool]) -> list[str]:
    """The names (places, people, organisations, other proper names, Latin words) a question
    asks about that the corpus never contains: "2024年中国与欧盟的贸易额是多少？" on a corpus
    that never names 欧盟 asks about something the articles do not cover."""
    return [
        t.word
        for t in question_terms
        if not known(t, vocabulary)
        and not re.search(r"几|第", t.word)
        and (entity_kind(t.word) in NAME_KINDS or (t.word.isascii() and t.word.isalpha() and len(t.word) > 1))
    ]
