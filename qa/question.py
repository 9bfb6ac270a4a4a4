"""Reading a question: validation, and follow-ups read with the previous question."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from index.errors import WendaError
from qa.settings import MAX_TOP_K, RetrievalSettings

# A question opening or closing like a follow-up, or pointing back with a pronoun, may be read
# with the previous one (qa.bot keeps that reading only when it is better supported); a short
# question is not a follow-up for being short ("北京天气怎么样？").
_FOLLOW_UP = re.compile(
    r"^(那|那么|还有|另外|而|它|他们|她们|其)|呢[？?。.！!]*$|^(and|what about|how about)\b", re.IGNORECASE
)


# A word pointing back to what the previous question asked about. Not one inside another word
# (应该, 活该, 因此, 彼此, 如此, 此外), nor a time said from now (这个周末, 这个月, this weekend), nor
# "it" standing for nothing ("is it true that…", "how long does it take…"), nor "that", which
# English questions use far more often to join a clause ("the railway that links…").
_NOW = r"周末|月|星期|礼拜|周|季度|冬天|夏天|春天|秋天|早上|上午|下午|晚上|假期|时候"
_NOW_EN = r"weekend|week|month|year|morning|afternoon|evening|summer|winter|spring|autumn|time"
_DUMMY_IT = r"true|false|possible|likely|necessary|important|worth|take|takes|took|cost|costs|rain|snow"
_REFERS_BACK = re.compile(
    rf"它|他们|她们|这些|这份|这项|这一|这个(?!{_NOW})|(?<![应活本])该|(?<![因如彼从由为就至特借故])此(?!外)"
    rf"|\b(?:its|they|their|them)\b|\bit\b(?!\s+(?:{_DUMMY_IT})\b)|\bthis\b(?!\s+(?:{_NOW_EN})\b)",
    re.IGNORECASE,
)


# A follow-up that only names what changes ("那2023年呢？", "what about Uzbekistan?"): it asks
# nothing on its own, so it is read with the previous question only.
_ELLIPTICAL = re.compile(
    r"^(?:那|那么|还有|而|and|what about|how about)?\s*([^\s？?。.！!，,]{1,24}?)\s*(?:呢)?[？?。.！!]*$",
    re.IGNORECASE,
)
_ASKS_ITSELF = re.compile(
    r"[哪吗谁么几]|多少|如何|怎|什么|为何|何时|是否|\b(?:who|what|when|where|why|how|which|is|are|do|does|did|will|can)\b",
    re.IGNORECASE,
)


def elliptical(question: str) -> bool:
    """True for a follow-up that only names what changes from the previous question
    ("那乌兹别克斯坦呢？", "那第三届呢？"), which has no reading of its own."""
    match = _ELLIPTICAL.match(question.strip())
    if match is None or not (
        question.rstrip("？?。.！! ").endswith("呢")
        or re.match(r"(?i)\s*(?:and|what about|how about)\b", question)
    ):
        return False
    return not _ASKS_ITSELF.search(match.group(1))


class QuestionError(WendaError, ValueError):
    """A question that cannot be asked as given (empty, too long, bad top_k)."""


def check_question(
    question: str, top_k: int = 5, max_chars: int = RetrievalSettings.max_question_chars
) -> str:
    """Normalise and validate a question; raise QuestionError with a one-line message.

    Control and format characters (NUL, zero-width spaces, a byte-order mark) are dropped
    first: a question of nothing else is empty, not a question to answer."""
    if isinstance(question, str):
        question = visible(question)
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("问题为空：请输入一个问题。(The question is empty.)")
    if len(question) > max_chars:
        raise QuestionError(
            f"问题太长（{len(question)} 字），请控制在 {max_chars} 字以内。"
            f"(The question is longer than {max_chars} characters.)"
        )
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise QuestionError(f"top_k={top_k!r} must be an integer from 1 to {MAX_TOP_K}")
    return " ".join(question.split())


def visible(text: str) -> str:
    """`text` without control and format characters (Unicode Cc and Cf: NUL, U+200B, U+FEFF,
    bidirectional marks), whitespace kept. Nothing a reader sees is lost, and nothing that
    means nothing reaches the model or the keyword index."""
    if text.isprintable():  # the common case, at C speed: no Cc or Cf character
        return text
    return "".join(c for c in text if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf"))


def clip(text: str, max_chars: int) -> str:
    """An earlier question of the conversation, without control and format characters,
    whitespace-normalised and cut to `max_chars`."""
    return " ".join(visible(text).split())[:max_chars]


def refers_back(question: str) -> bool:
    """True for a question pointing back with a pronoun ("它是什么时候召开的？")."""
    return bool(_REFERS_BACK.search(question))


def contextual_queries(question: str, history: Sequence[str]) -> list[str]:
    """The question, plus the question read with the previous one when it is a follow-up."""
    if history and (_FOLLOW_UP.search(question) or refers_back(question)):
        return [question, f"{history[-1]} {question}"]
    return [question]
