"""Read corpus files (.txt, .md, .html, .jsonl) into Articles with source metadata.

A file that cannot be read is reported by name and skipped; it never aborts a build.

Metadata beside a file comes from a sidecar `NAME.meta.json` or `NAME.meta.toml`: an
object for every article of the file, a list by article position, or an object whose
`articles` list (`[[articles]]` in TOML) gives per-article values over the shared ones.
The title is taken, in this order of preference, from a title line (a leading heading, a
Markdown `#` line), front matter (or an HTML page's `og:title`/`<h1>`/`<title>`), the jsonl
`title` field, the sidecar; else the first sentence stands in. Other fields (source, date,
author, url) come from the file itself when it gives them, else from the sidecar.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.clean import BLOCK_STEPS, DEFAULT_STEPS, Block, apply_steps, clean_raw, parse_layout
from index.documents import Article, Section

SUFFIXES = (".txt", ".md", ".markdown", ".jsonl", ".html", ".htm")
SIDECARS = (".meta.json", ".meta.toml")
META_KEYS = ("title", "source", "date", "author", "url")
_ORIGIN_LINE = re.compile(r"^\s*[（(]\s*原载(?P<body>[^\n]*?)[）)]\s*$", re.M)
_SOURCE = re.compile(r"《(?P<source>[^》]+)》")
_DATE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{1,2}-\d{1,2}")
_SENTENCE_END = re.compile(r"[。！？!?；;]")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TITLE_MAX = 40


class CorpusError(ValueError):
    """A corpus file or directory that cannot be used as given."""


@dataclass
class IngestReport:
    """What a corpus read produced and which files it skipped, with the reason."""

    files: int = 0
    articles: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def corpus_files(root: Path) -> list[Path]:
    """List the readable corpus files under `root` (or `root` itself), sorted."""
    if not root.exists():
        raise CorpusError(f"corpus path {str(root)!r} does not exist")
    if root.is_file():
        return [root]
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES]
    return sorted(p for p in files if not p.name.startswith("."))


def read_corpus(
    paths: Sequence[Path], root: Path | None = None, steps: Sequence[str] = DEFAULT_STEPS
) -> tuple[list[Article], IngestReport]:
    """Read every file in `paths` into articles; unreadable files are reported and skipped."""
    report = IngestReport()
    articles: list[Article] = []
    for path in paths:
        report.files += 1
        try:
            found = list(read_file(path, root=root, steps=steps))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            report.skipped.append((str(path), _one_line(exc)))
            continue
        articles.extend(found)
    check_unique_ids(articles)
    report.articles = len(articles)
    return articles, report


def read_file(path: Path, root: Path | None = None, steps: Sequence[str] = DEFAULT_STEPS) -> Iterator[Article]:
    """Read one file into articles, choosing the reader by suffix."""
    suffix = path.suffix.lower()
    base_id = _base_id(path, root)
    sidecar = _sidecar(path)
    if suffix == ".jsonl":
        yield from _read_jsonl(path, base_id, sidecar, steps)
    elif suffix in (".md", ".markdown"):
        yield _read_markdown(path, base_id, sidecar, steps)
    elif suffix == ".txt":
        yield from _read_text(path, base_id, sidecar, steps)
    elif suffix in (".html", ".htm"):
        yield _read_html(path, base_id, sidecar, steps)
    else:
        raise CorpusError(f"{path}: unsupported file type {suffix!r}; use one of {SUFFIXES}")


def _read_text(path: Path, base_id: str, sidecar: Any, steps: Sequence[str]) -> Iterator[Article]:
    """A plain-text file: one article, or several each ended by a （原载…） line."""
    raw = clean_raw(path.read_text(encoding="utf-8"), steps)
    parts = split_articles(raw)
    if not parts:
        raise CorpusError(f"{path}: no text found")
    for n, (body, origin) in enumerate(parts, start=1):
        article_id = base_id if len(parts) == 1 else f"{base_id}#{n}"
        blocks = parse_layout(body, steps)
        if origin:
            blocks.append(Block("paragraph", origin.strip()))
        meta = origin_metadata(origin)
        yield build_article(article_id, blocks, meta, path=str(path), sidecar=_sidecar_for(sidecar, n - 1))


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
    meta: dict[str, str] = {}
    if source := _SOURCE.search(origin):
        meta["source"] = source.group("source").strip()
    if date := _DATE.search(origin):
        meta["date"] = re.sub(r"\s+", "", date.group(0))
    return meta


def _read_markdown(path: Path, base_id: str, sidecar: Any, steps: Sequence[str]) -> Article:
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
        base_id, blocks, front, path=str(path), sidecar=_sidecar_for(sidecar, 0),
        meta_from="front matter", title_line=title_line, heading_is_title=False,
    )


def _read_html(path: Path, base_id: str, sidecar: Any, steps: Sequence[str]) -> Article:
    """A saved web page: the article body (page chrome dropped), title and meta tags."""
    from index.webpage import decode_html, parse_page

    page = parse_page(clean_raw(decode_html(path.read_bytes()), steps))
    blocks = [Block(b.kind, apply_steps(b.text, steps, BLOCK_STEPS)) for b in page.blocks]
    meta = {**page.meta, "title": page.title}
    return build_article(
        base_id, [b for b in blocks if b.text], meta, path=str(path), sidecar=_sidecar_for(sidecar, 0),
        meta_from=page.title_from, heading_is_title=False,
    )


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split `---` front matter of simple `key: value` lines from a Markdown body."""
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip().lower()] = value.strip().strip("'\"")
    return meta, text[match.end() :]


def _read_jsonl(path: Path, base_id: str, sidecar: Any, steps: Sequence[str]) -> Iterator[Article]:
    """A JSON-lines file: one article per line, {id, title, text, …metadata}."""
    with path.open(encoding="utf-8") as handle:
        lines = [(n, line) for n, line in enumerate(handle, start=1) if line.strip()]
    for position, (lineno, line) in enumerate(lines):
        record = _json_record(path, lineno, line)
        article_id = str(record.get("id") or f"{base_id}#{lineno}")
        text = clean_raw(str(record["text"]), steps)
        meta = {k: v for k, v in record.items() if k not in ("id", "text")}
        yield build_article(
            article_id, parse_layout(text, steps), meta, path=str(path),
            sidecar=_sidecar_for(sidecar, position), meta_from="jsonl",
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
) -> Article:
    """Assemble an Article from layout blocks and metadata.

    The title is, in order of preference: `title_line` (or, when `heading_is_title`, a
    leading heading block), `meta["title"]` (the file's own metadata, named by
    `meta_from`), `sidecar["title"]`, and else the lead sentence. Other fields come from
    `meta`, else from `sidecar`. A title that loses to a preferred one is kept in
    `metadata["other_titles"]`.
    """
    blocks = list(blocks)
    if title_line is None and heading_is_title and blocks and blocks[0].kind == "heading":
        title_line = blocks.pop(0).text
    if not any(b.kind == "paragraph" for b in blocks):
        raise CorpusError(f"article {article_id!r} has no body text")
    text, paragraphs, sections = _layout_spans(blocks)
    sidecar = dict(sidecar or {})
    candidates = [("title line", title_line), (meta_from, meta.get("title")), ("sidecar", sidecar.get("title"))]
    titles = [(source, " ".join(str(t).split())) for source, t in candidates if t is not None and str(t).strip()]
    lead = text[paragraphs[0][0] : paragraphs[0][1]]
    title_from, title = titles[0] if titles else ("lead", lead_title(lead))
    merged = {**sidecar, **{k: v for k, v in meta.items() if v not in (None, "")}}
    extra = {k: v for k, v in merged.items() if k not in META_KEYS}
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
    first = _SENTENCE_END.split(paragraph, maxsplit=1)[0].strip()
    return first if len(first) <= TITLE_MAX else first[: TITLE_MAX - 1] + "…"


def _sidecar(path: Path) -> Any:
    """Read `NAME.meta.json` or `NAME.meta.toml` beside a file, if present."""
    found = [p for p in (path.with_name(path.stem + suffix) for suffix in SIDECARS) if p.exists()]
    if len(found) > 1:
        raise CorpusError(f"{path}: both {found[0].name} and {found[1].name} give its metadata; keep one")
    if not found:
        return None
    meta_path = found[0]
    text = meta_path.read_text(encoding="utf-8")
    data = _parse_toml(meta_path, text) if meta_path.suffix == ".toml" else _parse_json(meta_path, text)
    rows = data if isinstance(data, list) else [data]
    if not all(isinstance(row, dict) for row in rows):
        raise CorpusError(f"{meta_path}: must be an object, or a list of objects (one per article)")
    return _plain(data)


def _parse_json(meta_path: Path, text: str) -> Any:
    """Parse a JSON sidecar."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{meta_path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def _parse_toml(meta_path: Path, text: str) -> dict[str, Any]:
    """Parse a TOML sidecar with tomllib (Python 3.11+) or tomli."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError as exc:
            raise CorpusError(f"{meta_path}: TOML sidecars need Python 3.11+ or `pip install tomli`") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{meta_path}: not valid TOML ({exc})") from exc


def _plain(value: Any) -> Any:
    """TOML dates and times as ISO strings, so metadata stays JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    return value


def _sidecar_for(sidecar: Any, position: int) -> dict[str, Any]:
    """Sidecar metadata for the article at `position`: shared values, then its own."""
    if isinstance(sidecar, list):
        return dict(sidecar[position]) if position < len(sidecar) else {}
    if not isinstance(sidecar, dict):
        return {}
    shared = {k: v for k, v in sidecar.items() if k != "articles"}
    own = sidecar.get("articles")
    if isinstance(own, list) and position < len(own) and isinstance(own[position], dict):
        return {**shared, **own[position]}
    return shared


def _base_id(path: Path, root: Path | None) -> str:
    """An article id base that is stable across rebuilds: the path below the corpus root."""
    try:
        rel = path.resolve().relative_to(root.resolve()) if root else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def family_id(article_id: str) -> str:
    """The id a file gives its articles before `#n` (several articles in one file)."""
    return article_id.split("#", 1)[0]


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _one_line(exc: BaseException) -> str:
    """An exception as one line, for the skipped-files report."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, CorpusError) else f"{type(exc).__name__}: {text}"


def check_unique_ids(articles: Iterable[Article]) -> None:
    """Refuse two articles with the same id: citations and updates rely on ids."""
    seen: dict[str, str | None] = {}
    for article in articles:
        if article.id in seen:
            raise CorpusError(
                f"duplicate article id {article.id!r} (in {seen[article.id]} and {article.path}); "
                "give each article a unique id"
            )
        seen[article.id] = article.path


_check_unique_ids = check_unique_ids  # the name before it was public
