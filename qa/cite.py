"""Answer, passage and citation objects, highlight spans, and the other articles printing a
passage's text: what `bot.ask` returns."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from index.documents import Article, Chunk

Span = tuple[int, int]

# Other articles printing a passage's text listed with it (the rest only counted): an agency
# story may run in thirty papers, and thirty citations would bury the passage
ALSO_IN_SHOWN = 10
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from: article, section, paragraph, source, date and offsets."""

    article_id: str
    article_title: str
    section: str | None
    paragraph: int | None
    source: str | None
    date: str | None
    chunk_id: str
    start: int
    end: int
    url: str | None = None

    @classmethod
    def of(cls, chunk: Chunk, article: Article, start: int | None = None, end: int | None = None) -> Citation:
        """Cite `chunk` (or the span `start:end` of its article) in `article`."""
        start = chunk.start if start is None else start
        return cls(
            article_id=article.id,
            article_title=article.title,
            section=chunk.section,
            paragraph=article.paragraph_number(start),
            source=article.source,
            date=article.date,
            chunk_id=chunk.id,
            start=start,
            end=chunk.end if end is None else end,
            url=article.url,
        )

    def label(self) -> str:
        """A one-line human citation: 《title》 · section · 第N段 · source date."""
        parts = [f"《{self.article_title}》"]
        if self.section:
            parts.append(self.section)
        if self.paragraph:
            parts.append(f"第{self.paragraph}段")
        origin = " ".join(p for p in (self.source, self.date) if p)
        if origin:
            parts.append(origin)
        return " · ".join(parts)


@dataclass(frozen=True)
class Passage:
    """A retrieved passage with its score, highlight spans (in `text`) and citation."""

    rank: int
    text: str
    score: float
    highlights: tuple[Span, ...]
    citation: Citation
    supports: bool = False  # holds the answer line (or states it, for a metadata passage)
    kind: str = "text"  # "text": a span of the article; "metadata": a line stating the article's metadata
    also_in: tuple[Citation, ...] = ()  # the other articles printing its text (see other_printings)
    also_in_total: int = 0  # how many there are, the ones beyond ALSO_IN_SHOWN too

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of the API."""
        data = asdict(self)
        data["score"] = round(float(self.score), 4)
        data["highlights"] = [list(h) for h in self.highlights]
        data["also_in"] = list(data["also_in"])
        return data


@dataclass(frozen=True)
class Answer:
    """The reply to one question."""

    question: str
    answer: str | None
    abstained: bool
    passages: tuple[Passage, ...]
    trace: Mapping[str, float] | None = None  # seconds per step, when asked with trace=True

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of the API."""
        data: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "passages": [p.to_dict() for p in self.passages],
        }
        if self.trace is not None:
            data["trace"] = dict(self.trace)
        return data


def merge_spans(spans: Iterable[Span]) -> tuple[Span, ...]:
    """Sort spans and merge the ones that overlap or touch."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def other_printings(
    copies: Iterable[Citation], article_id: str, limit: int = ALSO_IN_SHOWN
) -> tuple[tuple[Citation, ...], int]:
    """The other articles printing a passage's text, from citations of its copies: one citation
    an article (the first given; several chunks of one article may be copies), none of
    `article_id` (the passage's own), the earliest printing first (then by source and id, dates
    unknown last), at most `limit`; and how many articles there are in all."""
    cited: dict[str, Citation] = {}
    for citation in copies:
        if citation.article_id != article_id:
            cited.setdefault(citation.article_id, citation)
    ordered = sorted(cited.values(), key=_printed)
    return tuple(ordered[:limit]), len(ordered)


def _printed(citation: Citation) -> tuple[bool, tuple[int, ...], bool, str, str]:
    day = date_key(citation.date)
    return not day, day, citation.source is None, citation.source or "", citation.article_id


def date_key(date: str | None) -> tuple[int, ...]:
    """The numbers of a date, in order, to sort dates written year first however they are
    written (2025-06-30, 2025年7月1日, 2025-06-30T08:00+08:00; 20250630 as 2025, 6, 30): the
    articles' dates are their sources' text, never parsed. Empty for a date without numbers."""
    numbers: list[int] = []
    for run in _NUMBER.findall(date or ""):
        numbers += [int(run[:4]), int(run[4:6]), int(run[6:])] if len(run) == 8 else [int(run)]
    return tuple(numbers)
