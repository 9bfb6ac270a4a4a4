"""The Chinese text rules, in one place: CJK ranges, sentence ends, folding and tokenising.

Every module that needs one of these rules imports it from here. Where two parts of the
pipeline end a sentence at slightly different marks, each variant is built here from the
same named sets, with its purpose in one line, so the difference is visible and deliberate.
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from functools import lru_cache
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli is a dependency there)
    import tomli as tomllib

# --- character sets ---------------------------------------------------------------------------

# Chinese characters (CJK Extension A, Unified Ideographs, Compatibility Ideographs), as the body
# of a regex character class.
CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Characters a browser sets wide: CJK, CJK punctuation, full-width forms, curly quotes, dashes,
# ellipsis, middle dot; a space or line break between two of them is source wrapping (HTML).
WIDE = f"{CJK}\u3000-\u303f\uff00-\uffef\u2018\u2019\u201c\u201d\u2014\u2026\u00b7"

SENTENCE_ENDS = "。！？!?"  # full stop, exclamation and question marks (full-width and ASCII)
ELLIPSIS = "…"  # ends a sentence for chunking and layout repair, not for answers or titles
CLAUSE_ENDS = "；;"  # semicolons: a sentence end for answers, titles and layout; a clause end for chunks
CLAUSE_BREAKS = "，,、：:"  # commas, enumeration comma, colons: where a chunk cuts a sentence last
CLOSING_QUOTES = "”’」』）)\"'"  # may follow a sentence end, and then stay with its sentence


def char_class(chars: str, negate: bool = False, escapes: str = "") -> str:
    """A regex character class of `chars`, plus regex `escapes` such as r"\\n".

    `"` is escaped too, so the patterns read (and are stored in manifests) as they always were.
    """
    body = "".join("\\" + c if c in '\\]^-["' else c for c in chars)
    return f"[{'^' if negate else ''}{body}{escapes}]"


def after(chars: str) -> str:
    """A zero-width regex matching right after any of `chars` (a langchain separator)."""
    return f"(?<={char_class(chars)})"


def sentence_end_pattern(ends: str, quotes: str = CLOSING_QUOTES) -> str:
    """Zero-width: after a sentence end, or after the closing quotes that follow it."""
    end, quote = char_class(ends), char_class(quotes)
    return f"(?<={end})(?!{quote})|(?<={end}{quote})"


# --- the variants, one purpose each -------------------------------------------------------------

# Chunking: where a sentence ends (。！？!?…, after any closing quote); stored in chunk settings.
ZH_SENTENCE_END = sentence_end_pattern(SENTENCE_ENDS + ELLIPSIS)
# Chunking: where a sentence may start, for the overlap: after a sentence end or a line break.
ZH_SENTENCE_BOUNDARY = r"(?<=\n)|" + ZH_SENTENCE_END
# Layout repair: a wrapped line that ends a sentence (semicolons and ellipsis count, quotes may follow).
LINE_END = re.compile(char_class(SENTENCE_ENDS + ELLIPSIS + CLAUSE_ENDS) + char_class(CLOSING_QUOTES) + "*$")
# Layout repair: a heading never holds clause punctuation (an enumeration comma or an ellipsis it may).
HEADING_PUNCT = re.compile(char_class(SENTENCE_ENDS + CLAUSE_ENDS + "，：,:"))
# Answers and stand-in titles: a sentence ends at 。！？!?；; (an ellipsis does not end it).
SENTENCE_END = re.compile(char_class(SENTENCE_ENDS + CLAUSE_ENDS))
# Answers: a sentence runs to its end marks and any closing quotes, or to a line end.
_NOT_END = char_class(SENTENCE_ENDS + CLAUSE_ENDS, negate=True, escapes=r"\n")
_END = SENTENCE_END.pattern
SENTENCE = re.compile(f"{_NOT_END}+(?:{_END}+{char_class(CLOSING_QUOTES)}*|$)|{_END}+", re.MULTILINE)


# Answers in Latin script: a full stop ends a sentence when a space and a capital, a digit or a
# Chinese character follow ("…in March 2027. Mayor Berg said…"), not in 1.2, U.S. or after an
# abbreviation or an initial ("Mr. Smith", "J. K. Rowling"); ASCII ! and ? end one anywhere, as
# in Chinese.
_LATIN_FULL_STOP = re.compile(rf"\.[\"')\]”’]*(?=\s+[\"“‘(\[]?[A-Z0-9{CJK}])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr gen sen rep gov lt col capt sgt mt ft no nos vs etc fig inc ltd co corp "
    "dept univ est approx jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text`, spaces trimmed (closing quotes stay with their sentence)."""
    spans = []
    for match in SENTENCE.finditer(text):
        for start, end in _latin_sentences(text, *match.span()):
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append((start, end))
    return spans


def _latin_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) cut after each full stop that ends a Latin-script sentence."""
    out = []
    for stop in _LATIN_FULL_STOP.finditer(text, start, end):
        # the word before the full stop, read backwards: a pattern led by the full stop itself
        # scans Chinese text at C speed, one led by the word did not (0.60 against 0.43 ms)
        first = stop.start()
        while first > start and text[first - 1].isascii() and text[first - 1].isalpha():
            first -= 1
        word = text[first : stop.start()]
        if len(word) == 1 or word.lower() in _ABBREVIATIONS:
            continue  # an initial or an abbreviation ("J. K.", "Mr."), or U.S. (its "S")
        out.append((start, stop.end()))
        start = stop.end()
    out.append((start, end))
    return out


def latin_share(text: str) -> float:
    """Share of letters in the text that are Latin (0 for Chinese, 1 for English)."""
    letters = [c for c in text if c.isalpha()]
    return sum(c.isascii() for c in letters) / len(letters) if letters else 0.0


# --- folding and tokenising (keyword index and answer scoring) ----------------------------------

_RUN = re.compile(f"[{CJK}]+|[a-z0-9]+(?:[.'][a-z0-9]+)*")
_CJK_RUN = re.compile(f"[{CJK}]+")
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 都 而 就 被 把 对 为 以 于 之 其 这 那 哪 些 个 中 上 下 有 又 并 等 "
    "吗 呢 吧 啊 么 什么 哪个 哪些 怎么 怎样 如何 为什么 多少 几 谁 是否 是什么 哪里 哪儿 请问 "
    "a an the of to in on for and or is are was were be by with what which who how when where why "
    "does do did".split()
)


@lru_cache(maxsize=1)
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """The text in simplified characters, nothing else changed: the form texts are embedded in,
    so a traditional corpus or question is embedded as its simplified twin is (the model has
    seen far more simplified text, and the keyword side folds to it too)."""
    return _converter().convert(text)


def fold(text: str) -> str:
    """NFKC, lower case and simplified characters: the form both sides are matched in."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _converter().convert(text)


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """jieba words (search mode) and Latin words of folded text, without stopwords."""
    return _cut(text, search=True)


def _cut(text: str, search: bool) -> list[str]:
    """jieba words (search mode or precise mode) and Latin words of folded text, without stopwords."""
    out: list[str] = []
    for run in _RUN.findall(fold(text)):
        if _CJK_RUN.fullmatch(run):
            cut = _jieba().lcut_for_search(run) if search else _jieba().lcut(run)
            out.extend(w for w in cut if w not in STOPWORDS)
        elif run not in STOPWORDS:
            out.append(run)
    return out


def runs(text: str) -> list[str]:
    """The runs of Chinese characters and of Latin words or numbers in folded text, in order
    (what `words` segments; also what the Milvus store gives its jieba analyzer)."""
    return _RUN.findall(fold(text))


def bigrams(text: str) -> list[str]:
    """Character bigrams of every run of Chinese characters (single characters for runs of one)."""
    out: list[str] = []
    for run in _CJK_RUN.findall(fold(text)):
        out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return out


def tokenize(text: str) -> list[str]:
    """The keyword tokens of a text: words and `#`-marked bigrams (kept apart from words)."""
    return words(text) + ["#" + b for b in bigrams(text)]


def terms(text: str) -> list[str]:
    """The words of folded text in jieba's precise mode (no overlapping sub-words), without
    stopwords, in order: the units a question's meaning is checked in."""
    return _cut(text, search=False)


# --- TOML ---------------------------------------------------------------------------------------

TOMLDecodeError = tomllib.TOMLDecodeError


def load_toml(text: str) -> dict[str, Any]:
    """Parse TOML text (tomllib, or tomli on Python 3.10).

    Raises:
        TOMLDecodeError: the text is not valid TOML.
    """
    return tomllib.loads(text)
