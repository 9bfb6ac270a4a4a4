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
INTERROGATIVE = re.compile(r"[哪吗呢谁么几]|多少|如何|何时|何处|为何")
# Words that frame a question without naming what it is about.
FRAMING = (
    frozenset(
        "叫 叫做 称为 称作 有 没有 会 能 能够 可以 要 需要 应该 做 进行 发生 出现 位于 属于 包括 包含 主要 "
        "具体 分别 一下 一共 总共 到底 究竟 目前 现在 今天 今年 请 问 告诉 知道 介绍 说说 讲讲 名字 "
        "tell me please know describe explain".split()
    )
    | frozenset(  # words pointing back or framing the question, never what the answer must hold
        "它 它们 他 她 他们 她们 这 那 这个 那个 这些 那些 这份 这项 这次 这一 其中 这里 那里 此 时候 反过来".split()
    )
    | frozenset(  # words about the article and its author, which the article itself seldom holds
        "文章 本文 文中 文中说 该文 此文 这篇 原文 全文 作者 笔者 报道 认为 指出 提到 提及 谈到 说到 写道 "
        "根据 依据 按照 说到底 归根结底 归根到底".split()
    )
)

# What a chat box gets besides questions: greetings, thanks, farewells, assent, fillers, a
# test, and "you" and "I". A question of nothing else names nothing the articles could answer
# (qa.abstain.AnswerCheck.asked), though a broad corpus holds each of these words somewhere.
SMALL_TALK = frozenset(
    "你 您 我 我们 你们 咱们 你好 您好 大家好 嗨 哈喽 哈 喽 喂 早 早上好 上午好 中午好 下午好 晚上好 晚安 "
    "谢谢 多谢 感谢 谢了 再见 拜拜 回见 好 好的 好吧 行 可以 对 是的 没错 嗯 嗯嗯 哦 噢 喔 啊 呀 哈哈 哈哈哈 "
    "呵呵 嘿嘿 测试 试试 "
    "hi hello hey thanks thank you ok okay yes yeah no bye goodbye test testing i me we".split()
)


@dataclass(frozen=True)
class Term:
    """One term of a question, with its keyword tokens."""

    word: str
    tokens: tuple[str, ...]  # its `#`-marked bigrams (Chinese words), or its words (a Latin name)
    parts: tuple[str, ...] = ()  # the shorter words jieba's search mode finds inside it
    alternatives: tuple[Term, ...] = ()  # other words for it (an English term's other renderings)


def named(terms: Sequence[Term]) -> list[Term]:
    """The terms that name something to look for: small talk (SMALL_TALK) left out."""
    return [t for t in terms if t.word.lower() not in SMALL_TALK]


def question_terms(question: str) -> list[Term]:
    """The distinct terms a question asks about, in order."""
    seen: dict[str, Term] = {}
    for word in terms(question):
        if word in seen or word in FRAMING or INTERROGATIVE.search(word):
            continue
        seen[word] = chinese_term(word, _first_edition(word))
    return list(seen.values())


def _first_edition(word: str) -> tuple[str, ...]:
    """The other spelling of a first edition: 首届 is 第一届 (首届峰会, 第一届峰会)."""
    match = _FIRST.match(word)
    if not match:
        return ()
    rest = word[match.end() :]
    return ("第一届" + rest,) if match.group() == "首届" else ("首届" + rest,)


@lru_cache(maxsize=20_000)
def _parts(word: str) -> tuple[str, ...]:
    """The words of two characters or more that jieba's search mode finds inside `word`."""
    if len(word) < 3 or not re.fullmatch(r"[\u4e00-\u9fff]+", word):
        return ()
    import jieba

    return tuple(w for w in jieba.lcut_for_search(word) if w != word and len(w) > 1)


def covered(term: Term, tokens: Collection[str]) -> bool:
    """True when `tokens` (of a sentence and its context) hold the term or all its bigrams
    (or those of one of its alternatives)."""
    return any(
        t.word in tokens or (bool(t.tokens) and all(b in tokens for b in t.tokens))
        for t in (term, *term.alternatives)
    )


def covered_in_parts(term: Term, tokens: Collection[str]) -> bool:
    """`covered`, or every shorter word inside the term is in `tokens`: "中亚国家" is covered by
    a passage about 中亚 and 国家, "上六国" (cut across "峰会上，六国元首") by one with 六国."""
    return covered(term, tokens) or (
        bool(term.parts)
        and all(p in tokens or all("#" + b in tokens for b in bigrams(p)) for p in term.parts)
    )


def known(term: Term, vocabulary: Callable[[str], bool]) -> bool:
    """True when the corpus holds the term (or one of its alternatives) as a word or through
    all its bigrams."""
    return any(
        vocabulary(t.word) or (bool(t.tokens) and all(vocabulary(b) for b in t.tokens))
        for t in (term, *term.alternatives)
    )


def chinese_term(word: str, alternatives: Sequence[str] = ()) -> Term:
    """A term for a Chinese word (an English term's rendering), with other renderings. A
    name the corpus writes in Latin letters ("mit opencourseware") is held through its words."""
    if " " in word:
        grams: tuple[str, ...] = tuple(word.split())
    else:
        grams = tuple("#" + b for b in bigrams(word)) if len(word) > 1 else ()
    return Term(word, grams, _parts(word), tuple(chinese_term(a) for a in alternatives))


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


@lru_cache(maxsize=20_000)
def in_dictionary(word: str) -> bool:
    """True when jieba's dictionary holds the word. Words jieba makes up (its HMM joins unknown
    characters) are often cut across a word boundary: "松才" in "鸡毛松才可以", not a name."""
    import jieba

    jieba.initialize()
    return jieba.dt.FREQ.get(word, 0) > 0


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


# Common nouns jieba tags as place names: they name no particular place.
GENERIC_NAMES = frozenset(
    "城市 东西 地方 国家 地区 世界 国内 国外 海外 当地 各国 全国 全球 南方 北方 东方 西方 各地 本地 外地 "
    "长度 高度 深度 宽度 面积".split()
)
_DIGIT = re.compile(r"\d")
# 第二届, 第3次 (not 第一次, which articles as often write 首次, 首播, 首个…)
_ORDINAL = re.compile(r"^第(?:[二三四五六七八九十百零〇]|\d)")
# a first edition of a recurring event, written either way (its term holds the other spelling)
_FIRST = re.compile(r"^(?:首|第一)届")
CONSTRAINT_KINDS = frozenset({"place", "person", "org"})  # not "name" (nz): 英语, 广告语 are common words


def constraints(question_terms: Sequence[Term]) -> list[Term]:
    """The terms that pin down *which* fact is asked about: numbers and years in digits,
    ordinals (第三届, 首届) and names of places, people and organisations. An answer about 2024
    does not answer a question about 2023, nor one about 中塔公路 a question about 中塔铁路: a
    passage that lacks such a term answers another question."""
    out = []
    for term in question_terms:
        word = term.word
        if len(word) < 2 and not word.isdigit():
            continue
        if _DIGIT.search(word) or _ORDINAL.search(word) or _FIRST.search(word) or _a_name(word):
            out.append(term)
    return out


def _a_name(word: str) -> bool:
    """A place, person or organisation jieba knows by name (not a common noun it tags as one)."""
    return (
        len(word) > 1
        and entity_kind(word) in CONSTRAINT_KINDS
        and word not in GENERIC_NAMES
        and in_dictionary(word)
    )


def unmatched(question_terms: Sequence[Term], tokens: Collection[str]) -> list[str]:
    """The constraint terms of a question that `tokens` (an answer's passage and its title and
    section) do not hold."""
    return [t.word for t in constraints(question_terms) if not covered_in_parts(t, tokens)]


def absent_names(question_terms: Sequence[Term], vocabulary: Callable[[str], bool]) -> list[str]:
    """The names (places, people and organisations jieba knows, Latin words) a question
    asks about that the corpus never contains: "2024年中国与欧盟的贸易额是多少？" on a corpus
    that never names 欧盟 asks about something the articles do not cover."""
    return [
        t.word
        for t in question_terms
        if not known(t, vocabulary)
        and not (t.parts and all(vocabulary(p) for p in t.parts))
        and not re.search(r"几|第", t.word)
        and (_a_name(t.word) or (t.word.isascii() and t.word.isalpha() and len(t.word) > 1))
    ]
