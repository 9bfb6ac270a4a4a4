"""Readers for plain text, Markdown and JSON lines, and the assembly of an Article from blocks.

Each reader gets a file, the id its articles start from, the file's sidecar metadata and the
cleaning steps, and yields Articles (see index.ingest for how files are chosen and ids made).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from index.documents import Article, Section
from index.errors import CorpusError, one_line
from index.ingest.encoding import decode_text
from index.ingest.layout import DEFAULT_STEPS, Block, clean_raw, parse_layout
from index.ingest.noncontent import byline_author, content_blocks
from index.ingest.report import IngestReport
from index.ingest.sidecar import sidecar_for
from index.text import SENTENCE_END

META_KEYS = ("title", "source", "date", "author", "url")
_ORIGIN_LINE = re.compile(r"^\s*[（(]\s*原载(?P<body>[^\n]*?)[）)]\s*$", re.MULTILINE)
_SOURCE = re.compile(r"《(?P<source>[^》]+)》")
_DATE = re.compile(
    r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{1,2}-\d{1,2}"
)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FRONT_MATTER_OPEN = re.compile(r"---[ \t]*\n")
_FRONT_MATTER = re.compile(r"---[ \t]*\n(?:(.*?)\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)
TITLE_MAX = 40
_UNSAFE = ("Cc", "Cf", "Zl", "Zp")  # control, format (e.g. bidi overrides), line and paragraph separators


def read_text(
    path: Path, base_id: str, sidecar: Any, steps: Sequence[str], report: IngestReport | None = None
) -> Iterator[Article]:
    """A plain-text file: one article, or several each ended by a （原载…） line."""
    raw = clean_raw(read_decoded(path, report), steps)
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


def read_markdown(
    path: Path, base_id: str, sidecar: Any, steps: Sequence[str], report: IngestReport | None = None
) -> Article:
    """A Markdown file: front matter, a `#` title line, `##` sections.

    Front matter opened by a `---` line and never closed is read as body text: its lines up
    to the first blank line become paragraphs of their own, never the title, and it is
    reported.
    """
    raw = clean_raw(read_decoded(path, report), steps)
    front, body = split_front_matter(raw)
    unclosed: list[Block] = []
    if body is raw and (opening := _FRONT_MATTER_OPEN.match(raw)):
        block, _, body = raw[opening.end() :].partition("\n\n")
        unclosed = [Block("paragraph", line.strip()) for line in block.split("\n") if line.strip()]
        if report is not None:
            report.note(path, "front matter opened by '---' is never closed; read as body text")
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
        unclosed + blocks,
        front,
        path=str(path),
        sidecar=sidecar_for(sidecar, 0),
        meta_from="front matter",
        title_line=title_line,
        heading_is_title=False,
        steps=steps,
        lead_after=len(unclosed),
    )


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split `---` front matter of simple `key: value` lines from a Markdown body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta = {}
    for line in (match.group(1) or "").split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[match.end() :]


def read_jsonl(
    path: Path, base_id: str, sidecar: Any, steps: Sequence[str], report: IngestReport | None = None
) -> Iterator[Article]:
    """A JSON-lines file: one article per line, {id, title, text, …metadata}.

    A bad line (not JSON, no string `text`, no body, not decodable) is skipped and reported
    as `FILE:LINE`; the other lines are read.
    """
    report = report or IngestReport()
    for position, (lineno, line) in enumerate(_jsonl_lines(path, report)):
        try:
            record = _json_record(line)
            article_id = clean_id(str(record.get("id") or f"{base_id}#{lineno}"))
            text = clean_raw(record["text"], steps)
            meta = {k: v for k, v in record.items() if k not in ("id", "text")}
            article = build_article(
                article_id,
                parse_layout(text, steps),
                meta,
                path=str(path),
                sidecar=sidecar_for(sidecar, position),
                meta_from="jsonl",
                steps=steps,
            )
        except (CorpusError, ValueError, TypeError) as exc:
            report.skip(f"{path}:{lineno}", one_line(exc))
            continue
        if record.get("id") and article_id != str(record["id"]):
            report.note(f"{path}:{lineno}", f"control characters in the id replaced by '_': {article_id!r}")
        yield article


def _jsonl_lines(path: Path, report: IngestReport) -> list[tuple[int, str]]:
    """The non-blank lines of a JSONL file with their numbers.

    A UTF-8 file with a few undecodable lines loses only those lines (reported); a file in
    another encoding is decoded whole (see index.ingest.encoding).
    """
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if not any(_utf8_beyond_ascii(raw) for raw in raw_lines):
            text = read_decoded(path, report, data)
            return [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    lines = []
    for n, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            report.skip(
                f"{path}:{n}", f"not UTF-8 text (byte {raw[exc.start]:#04x} at column {exc.start + 1})"
            )
            continue
        if line.strip():
            lines.append((n, line))
    return lines


def _utf8_beyond_ascii(raw: bytes) -> bool:
    """True when a line holds non-ASCII bytes that are valid UTF-8 (evidence the file is UTF-8)."""
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_record(line: str) -> dict[str, Any]:
    """Parse one JSONL line and check it has a text field."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise CorpusError("each line must be an object with a string 'text' field")
    return record


def read_decoded(path: Path, report: IngestReport | None, data: bytes | None = None) -> str:
    """The text of a file in whatever encoding it is in; a detected encoding is noted in `report`.

    Raises:
        CorpusError: the file is binary or in no known encoding.
    """
    decoded = decode_text(path.read_bytes() if data is None else data)
    if report is not None and (note := decoded.note()):
        report.note(path, note)
    return decoded.text


def clean_id(article_id: str) -> str:
    """An article id without control characters or line and paragraph separators (each becomes '_')."""
    return "".join("_" if unicodedata.category(c) in _UNSAFE else c for c in article_id)


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
    lead_after: int = 0,
) -> Article:
    """Assemble an Article from layout blocks and metadata.

    The title is, in order of preference: `title_line` (or, when `heading_is_title`, a
    leading heading block), `meta["title"]` (the file's own metadata, named by
    `meta_from`), `sidecar["title"]`, and else the lead sentence (of the first paragraph
    after the first `lead_after` ones, when there is one). Other fields come from
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
    start, end = paragraphs[min(lead_after, len(paragraphs) - 1)]
    lead = text[start:end]
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
