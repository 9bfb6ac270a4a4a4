"""Article and Chunk: the data that crosses from `index` to `qa`.

Offsets are character offsets into `Article.text`, the cleaned article; for every chunk
`article.text[chunk.start:chunk.end] == chunk.text` holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


def content_hash(*parts: str, length: int = 16) -> str:
    """Return a short, stable hex digest of the given strings (NUL-separated)."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


@dataclass(frozen=True)
class Section:
    """A run of an article under one heading; `heading` is None for the lead."""

    heading: str | None
    start: int
    end: int


@dataclass(frozen=True)
class Article:
    """One cleaned article with its structure and source metadata.

    `paragraphs` are the spans of body paragraphs (headings excluded), numbered from 1 in
    citations; `sections` cover the article from its first paragraph to its end.
    """

    id: str
    title: str
    text: str
    paragraphs: tuple[tuple[int, int], ...]
    sections: tuple[Section, ...]
    source: str | None = None
    date: str | None = None
    author: str | None = None
    url: str | None = None
    path: str | None = None
    title_from: str = "title"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """A digest of everything that changes what is indexed for this article."""
        meta = f"{self.title}|{self.source}|{self.date}|{self.author}|{self.url}"
        return content_hash(self.id, meta, self.text)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (lists instead of tuples)."""
        data = asdict(self)
        data["paragraphs"] = [list(p) for p in self.paragraphs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        """Rebuild an Article written by `to_dict`."""
        fields = dict(data)
        fields["paragraphs"] = tuple(tuple(p) for p in fields["paragraphs"])
        fields["sections"] = tuple(Section(**s) for s in fields["sections"])
        return cls(**fields)

    def section_at(self, offset: int) -> Section | None:
        """Return the section containing `offset`, if any."""
        for section in self.sections:
            if section.start <= offset < section.end:
                return section
        return None

    def paragraph_number(self, offset: int) -> int | None:
        """Return the 1-based number of the paragraph containing or following `offset`."""
        for number, (_, end) in enumerate(self.paragraphs, start=1):
            if offset < end:
                return number
        return len(self.paragraphs) or None


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: the unit that is embedded, retrieved and cited."""

    id: str
    article_id: str
    text: str
    start: int
    end: int
    section: str | None
    paragraph: int | None
    paragraph_end: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        """Rebuild a Chunk written by `to_dict` (unknown keys are ignored)."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})
