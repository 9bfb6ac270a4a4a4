"""Readers for plain text, Markdown and JSON lines, and the assembly of an Article from blocks.

Each reader gets a file, the id its articles start from, the file's sidecar metadata and the
cleaning steps, and yields Articles (see index.ingest for how files are chosen and ids made).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from index.documents import Article, Section
from index.errors import CorpusError
from index.ingest.layout import DEFAULT_STEPS, Block, clean_raw, parse_layout
from index.ingest.noncontent import byline_author, content_blocks
from index.ingest.sidecar import sidecar_for
from index.text import SENTENCE_END

META_KEYS = ("title", "source", "date", "author", "url")
_ORIGIN_LINE = re.compile(r"^\s*[（(]\s*原载(?P<body>[^\n]*?)[）)]\s*$", re.MULTILINE)
_SOURCE = re.compile(r"《(?P<source>[^》]+)》")
_DATE = re.compile(
    r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{1,2}-\d{1,2}"
)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TITLE_MAX = 40


def read_text(path: Path, base_id: str, sidecar: Any, steps: Sequence[str]) -> Iterator[Article]:
    """A plain-text file: one article, or several each ended by a （原载…） line."""
    raw = clean_raw(path.read_text(encoding="utf-8"), steps)
    parts = split_articles(raw)
    if not parts:
        raise CorpusError(f"{path}: no text found")
    for n, (body, origin) in enumerate(parts, start=1):
        article_id = base_id if len(parts) == 1 else f"{base_id}#{n}"
        blocks = parse_layout(body, steps)
        if origin and "drop_non_content" not in steps:
            blocks.append(Block("paragraph", origin.strip()))
        meta = origin_metadata(origin)  # the source line is metadata, not a passage
        yield build_article(
            article_id, blocks, meta, path=str(path), sidecar=sidecar_for(sidecar, n - 1), steps=steps
        )


def split_articles(text: str) -> list[tuple[str, str | None]]:
    """Split text at （原载…） lines; each part is (body, origin line or None)."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for match in _ORIGIN_LINE.finditer(text):
        parts.append((text[pos : match.start()], match.group(0).strip()))
        pos = match.end()
    parts.append((text[pos:], None))
    return [(body, origin) for body, origin in parts if body.strip()]


def origin_metadata(origin: str | None) -> dict[str, str]:
    """Take source and date from a （原载6月30日《人民日报》） line."""
    if not origin:
        return {}
    meta: dict[str, str] = {"origin": origin.strip()}
    if source := _SOURCE.search(origin):
        meta["source"] = source.group("source").strip()
    if date := _DATE.search(origin):
        meta["date"] = re.sub(r"\s+", "", date.group(0))
    return meta


def read_markdown(path: Path, base_id: str, sidecar: Any, steps: Sequence[str]) -> Article:
    """A Markdown file: front matter, a `#` title line, `##` sections."""
    raw = clean_raw(path.read_text(encoding="utf-8"), steps)
    front, body = split_front_matter(raw)
    title_line: str | None = None
    blocks: list[Block] = []
    pending: list[str] = []
    for line in body.split("\n"):
        match = _MD_HEADING.match(line)
        if not match:
            pending.append(line)
            continue
        blocks.extend(parse_layout("\n".join(pending), steps))
        pending = []
        if len(match.group(1)) == 1 and not blocks and title_line is None:
            title_line = match.group(2)  # the page title, not a section
        else:
            blocks.append(Block("heading", match.group(2)))
    blocks.extend(parse_layout("\n".join(pending), steps))
    return build_article(
        base_id,
        blocks,
        front,
        path=str(path),
        sidecar=sidecar_for(sidecar, 0),
        meta_from="front matter",
        title_line=title_line,
        heading_is_title=False,
        steps=steps,
    )


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split `---` front matter of simple `key: value` lines from a Markdown body."""
    match = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[match.end() :]


def read_jsonl(path: Path, base_id: str, sidecar: Any, steps: Sequence[str]) -> Iterator[Article]:
    """A JSON-lines file: one article per line, {id, title, text, …metadata}."""
    with path.open(encoding="utf-8") as handle:
        lines = [(n, line) for n, line in enumerate(handle, start=1) if line.strip()]
    for position, (lineno, line) in enumerate(lines):
        record = _json_record(path, lineno, line)
        article_id = str(record.get("id") or f"{base_id}#{lineno}")
        text = clean_raw(str(record["text"]), steps)
        meta = {k: v for k, v in record.items() if k not in ("id", "text")}
        yield build_article(
            article_id,
            parse_layout(text, steps),
            meta,
            path=str(path),
            sidecar=sidecar_for(sidecar, position),
            meta_from="jsonl",
            steps=steps,
        )


def _json_record(path: Path, lineno: int, line: str) -> dict[str, Any]:
    """Parse one JSONL line and check it has a text field."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise CorpusError(f"{path}:{lineno}: each line must be an object with a string 'text' field")
    return record


def build_article(
    article_id: str,
    blocks: Sequence[Block],
    meta: Mapping[str, Any],
    path: str | None,
    *,
    sidecar: Mapping[str, Any] | None = None,
    meta_from: str = "metadata",
    title_line: str | None = None,
    heading_is_title: bool = True,
    steps: Sequence[str] = DEFAULT_STEPS,
) -> Article:
    """Assemble an Article from layout blocks and metadata.

    The title is, in order of preference: `title_line` (or, when `heading_is_title`, a
    leading heading block), `meta["title"]` (the file's own metadata, named by
    `meta_from`), `sidecar["title"]`, and else the lead sentence. Other fields come from
    `meta`, else from `sidecar`. A title that loses to a preferred one is kept in
    `metadata["other_titles"]`. With the `drop_non_content` step, source lines, bylines,
    editor lines and photo captions are moved into `metadata["non_content"]` (a byline also
    gives the author when none is known).
    """
    blocks, dropped = content_blocks(blocks) if "drop_non_content" in steps else (list(blocks), [])
    if title_line is None and heading_is_title and blocks and blocks[0].kind == "heading":
        title_line = blocks.pop(0).text
    if not any(b.kind == "paragraph" for b in blocks):
        raise CorpusError(f"article {article_id!r} has no body text")
    text, paragraphs, sections = _layout_spans(blocks)
    sidecar = dict(sidecar or {})
    candidates = [
        ("title line", title_line),
        (meta_from, meta.get("title")),
        ("sidecar", sidecar.get("title")),
    ]
    titles = [
        (source, " ".join(str(t).split())) for source, t in candidates if t is not None and str(t).strip()
    ]
    lead = text[paragraphs[0][0] : paragraphs[0][1]]
    title_from, title = titles[0] if titles else ("lead", lead_title(lead))
    merged = {**sidecar, **{k: v for k, v in meta.items() if v not in (None, "")}}
    if dropped:
        merged.setdefault("author", byline_author(dropped))
    extra = {k: v for k, v in merged.items() if k not in META_KEYS}
    if dropped:
        extra["non_content"] = dropped
    others = {source: t for source, t in titles[1:] if t != title}
    if others:
        extra["other_titles"] = others
    return Article(
        id=article_id,
        title=title,
        text=text,
        paragraphs=paragraphs,
        sections=sections,
        source=_opt_str(merged.get("source")),
        date=_opt_str(merged.get("date")),
        author=_opt_str(merged.get("author")),
        url=_opt_str(merged.get("url")),
        path=path,
        title_from=title_from,
        metadata=extra,
    )


def _layout_spans(blocks: Sequence[Block]) -> tuple[str, tuple[tuple[int, int], ...], tuple[Section, ...]]:
    """Join blocks with newlines; return the text, paragraph spans and sections."""
    pieces: list[str] = []
    paragraphs: list[tuple[int, int]] = []
    sections: list[Section] = []
    heading: str | None = None
    section_start = pos = 0
    for block in blocks:
        if pieces:
            pos += 1  # the newline between blocks
        if block.kind == "heading":
            if pos > section_start:
                sections.append(Section(heading, section_start, pos - 1))
            heading, section_start = block.text, pos
        else:
            paragraphs.append((pos, pos + len(block.text)))
        pieces.append(block.text)
        pos += len(block.text)
    sections.append(Section(heading, section_start, pos))
    return "\n".join(pieces), tuple(paragraphs), tuple(s for s in sections if s.end > s.start)


def lead_title(paragraph: str) -> str:
    """A stand-in title for an article without one: its first sentence, shortened."""
    first = SENTENCE_END.split(paragraph, maxsplit=1)[0].strip()
    return first if len(first) <= TITLE_MAX else first[: TITLE_MAX - 1] + "…"


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
