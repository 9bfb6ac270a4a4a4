"""Read corpus files (.txt, .md, .html, .jsonl) into Articles with source metadata.

A file that cannot be read is reported by name and skipped; it never aborts a build. One
reader per format (`readers`: txt, md, jsonl; `html`: saved web pages), metadata beside a
file from a sidecar `NAME.meta.json` or `NAME.meta.toml` (`sidecar`), and the cleaning steps
and newspaper layout repair they all use (`layout`).

The title is taken, in this order of preference, from a title line (a leading heading, a
Markdown `#` line), front matter (or an HTML page's `og:title`/`<h1>`/`<title>`), the jsonl
`title` field, the sidecar; else the first sentence stands in. Other fields (source, date,
author, url) come from the file itself when it gives them, else from the sidecar.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.documents import Article
from index.errors import CorpusError
from index.ingest.html import read_html
from index.ingest.layout import DEFAULT_STEPS
from index.ingest.readers import read_jsonl, read_markdown, read_text
from index.ingest.sidecar import read_sidecar

SUFFIXES = (".txt", ".md", ".markdown", ".jsonl", ".html", ".htm")


@dataclass
class IngestReport:
    """What a corpus read produced and which files it skipped, with the reason."""

    files: int = 0
    articles: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def nothing_read(self, roots: Sequence[Path]) -> str:
        """The error message for a corpus whose every file was skipped."""
        names = ", ".join(repr(str(r)) for r in roots)
        first = f"; first: {self.skipped[0][0]}: {self.skipped[0][1]}" if self.skipped else ""
        return f"no article could be read from {names} ({len(self.skipped)} files skipped{first})"


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


def read_file(
    path: Path, root: Path | None = None, steps: Sequence[str] = DEFAULT_STEPS
) -> Iterator[Article]:
    """Read one file into articles, choosing the reader by suffix."""
    suffix = path.suffix.lower()
    base_id = _base_id(path, root)
    sidecar = read_sidecar(path)
    if suffix == ".jsonl":
        yield from read_jsonl(path, base_id, sidecar, steps)
    elif suffix in (".md", ".markdown"):
        yield read_markdown(path, base_id, sidecar, steps)
    elif suffix == ".txt":
        yield from read_text(path, base_id, sidecar, steps)
    elif suffix in (".html", ".htm"):
        yield read_html(path, base_id, sidecar, steps)
    else:
        raise CorpusError(f"{path}: unsupported file type {suffix!r}; use one of {SUFFIXES}")


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
