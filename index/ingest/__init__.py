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

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from index.documents import Article
from index.errors import CorpusError, one_line
from index.ingest.html import read_html
from index.ingest.layout import DEFAULT_STEPS
from index.ingest.readers import clean_id, read_jsonl, read_markdown, read_text
from index.ingest.report import IngestReport
from index.ingest.sidecar import read_sidecar

SUFFIXES = (".txt", ".md", ".markdown", ".jsonl", ".html", ".htm")

__all__ = [
    "SUFFIXES",
    "IngestReport",
    "check_unique_ids",
    "corpus_files",
    "drop_duplicate_ids",
    "family_id",
    "read_corpus",
    "read_file",
]


def corpus_files(root: Path, report: IngestReport | None = None) -> list[Path]:
    """List the corpus files under `root` (or `root` itself), sorted.

    Symbolic links are never followed out of `root`: a link whose target lies outside it, a
    dangling link, a link loop and a link to a directory are skipped and reported in
    `report` (naming the link and its target). A link to a file inside `root` is read.
    """
    if not root.exists():
        raise CorpusError(f"corpus path {str(root)!r} does not exist")
    if root.is_file():
        return [root]
    report = report if report is not None else IngestReport()
    top = root.resolve()
    files: list[Path] = []

    def unlistable(exc: OSError) -> None:
        report.skip(exc.filename, f"cannot list this directory ({exc.strerror})")

    for directory, dirs, names in os.walk(root, onerror=unlistable):  # never enters linked directories
        here = Path(directory)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                report.skip(
                    here / name, _link_problem(here / name, top) or "link to a directory; not followed"
                )
        for name in names:
            path = here / name
            if path.suffix.lower() not in SUFFIXES or name.startswith("."):
                continue
            if path.is_symlink() and (problem := _link_problem(path, top)):
                report.skip(path, problem)
                continue
            files.append(path)
    return sorted(files)


def _link_problem(link: Path, top: Path) -> str | None:
    """Why a symbolic link under the corpus root `top` is not read, or None for a link to a file in it."""
    target = os.readlink(link)
    try:
        resolved = link.resolve(strict=True)
    except FileNotFoundError:
        return f"dangling symbolic link (to {target}); nothing to read"
    except (RuntimeError, OSError):  # RuntimeError: Python < 3.13's "Symlink loop"
        return f"symbolic link loop (to {target}); not followed"
    if not resolved.is_relative_to(top):
        return f"symbolic link to {resolved}, outside the corpus; not followed"
    if resolved.is_dir():
        if link.parent.resolve().is_relative_to(resolved):
            return f"symbolic link loop (to {target}, a directory it is in); not followed"
        return f"symbolic link to a directory ({target}); not followed"
    return None


def read_corpus(
    paths: Sequence[Path],
    root: Path | None = None,
    steps: Sequence[str] = DEFAULT_STEPS,
    report: IngestReport | None = None,
) -> tuple[list[Article], IngestReport]:
    """Read every file in `paths` into articles.

    Unreadable files, bad JSONL lines and articles whose id was already read are reported
    in `report` (a new one unless given) and skipped; the rest is read.
    """
    report = report if report is not None else IngestReport()
    articles: list[Article] = []
    first: dict[str, Article] = {}
    for path in paths:
        report.files += 1
        try:
            found = list(read_file(path, root=root, steps=steps, report=report))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            report.skip(path, _one_line(exc))
            continue
        articles.extend(drop_duplicate_ids(found, report, first))
    report.articles = len(articles)
    return articles, report


def read_file(
    path: Path,
    root: Path | None = None,
    steps: Sequence[str] = DEFAULT_STEPS,
    report: IngestReport | None = None,
) -> Iterator[Article]:
    """Read one file into articles, choosing the reader by suffix."""
    suffix = path.suffix.lower()
    base_id = _base_id(path, root, report)
    sidecar = read_sidecar(path)
    if suffix == ".jsonl":
        yield from read_jsonl(path, base_id, sidecar, steps, report)
    elif suffix in (".md", ".markdown"):
        yield read_markdown(path, base_id, sidecar, steps, report)
    elif suffix == ".txt":
        yield from read_text(path, base_id, sidecar, steps, report)
    elif suffix in (".html", ".htm"):
        yield read_html(path, base_id, sidecar, steps)
    else:
        raise CorpusError(f"{path}: unsupported file type {suffix!r}; use one of {SUFFIXES}")


def _base_id(path: Path, root: Path | None, report: IngestReport | None = None) -> str:
    """An article id base that is stable across rebuilds: the path below the corpus root.

    Control characters and line separators in the path (a newline in a file name) become '_'.
    """
    try:
        rel = path.resolve().relative_to(root.resolve()) if root else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    raw = rel.with_suffix("").as_posix()
    cleaned = clean_id(raw)
    if cleaned != raw and report is not None:
        report.note(path, f"control characters in the file name replaced by '_' in its id {cleaned!r}")
    return cleaned


def family_id(article_id: str) -> str:
    """The id a file gives its articles before `#n` (several articles in one file)."""
    return article_id.split("#", 1)[0]


def _one_line(exc: BaseException) -> str:
    """An exception as one line, for the skipped-files report."""
    return one_line(exc) if isinstance(exc, CorpusError) else f"{type(exc).__name__}: {one_line(exc)}"


def drop_duplicate_ids(
    articles: Sequence[Article], report: IngestReport, first: dict[str, Article] | None = None
) -> list[Article]:
    """The articles whose id no earlier article has; the later ones are reported and skipped.

    The rule: the first article read keeps its id (files are read in sorted path order).
    `first` holds the ids already read (by earlier calls), and is updated.
    """
    first = {} if first is None else first
    kept: list[Article] = []
    for article in articles:
        if article.id in first:
            report.skip(
                article.path or article.id,
                f"duplicate article id {article.id!r}: {first[article.id].path} already gave it "
                "(the first file read keeps an id); give each article a unique id",
            )
        else:
            first[article.id] = article
            kept.append(article)
    return kept


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
