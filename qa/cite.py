"""Answer, passage and citation objects, and highlight spans: what `bot.ask` returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from index.documents import Article, Chunk

Span = tuple[int, int]


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

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of the API."""
        data = asdict(self)
        data["score"] = round(float(self.score), 4)
        data["highlights"] = [list(h) for h in self.highlights]
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
