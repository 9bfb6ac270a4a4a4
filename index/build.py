"""Build indexes: corpus → articles → chunks → vectors → a stored generation.

Vectors are reused for every chunk whose embedded text is unchanged (content hashes), so a
rebuild embeds only what is new; the keyword tokens are reused the same way. Adding and
removing articles without a rebuild is `index.update`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from index.documents import Article, Chunk, content_hash
from index.embed import Embedder, make_embedder
from index.errors import CorpusError, IndexStoreError
from index.ingest import IngestReport, check_unique_ids, corpus_files, read_corpus
from index.settings import IndexSettings
from index.store import (
    LoadedIndex,
    StoredChunk,
    index_exists,
    load_index,
    read_manifest,
    write_index,
    writer_lock,
)
from index.store.backends import settled, store_words
from index.writer import BuildReport, chunks_with_texts, keyword_files, stored_tokens, tokens_of, vectors_for


def build_index(
    corpus: Path | Sequence[Path],
    index_dir: Path,
    settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
) -> BuildReport:
    """Index every readable file of `corpus` into `index_dir`, replacing what it held.

    The writer lock is taken before any file is read or the model loaded, so a second
    writer fails at once. What is skipped (or read differently) is passed to `echo` as it
    happens, one line each, and listed in the report.

    Raises:
        CorpusError: no corpus, or nothing readable in it.
        IndexLockedError: another writer holds the index.
        DiskFullError: the disk filled up (the previous index stays live).
    """
    started = time.perf_counter()
    settings = settings or IndexSettings()
    roots = [corpus] if isinstance(corpus, Path) else list(corpus)
    ingest = IngestReport(echo=echo)
    files = _list_files(roots, ingest)
    with writer_lock(index_dir):
        articles, ingest = read_corpus(
            files, root=build_id_root(roots), steps=settings.clean.steps, report=ingest
        )
        if not articles:
            raise CorpusError(ingest.nothing_read(roots))
        report = write_locked(
            index_dir, articles, settings, embedder, progress=progress, extra_manifest=corpus_manifest(roots)
        )
    report.skipped = ingest.skipped
    report.notes = ingest.notes
    report.seconds = time.perf_counter() - started
    return report


def write_articles(
    index_dir: Path,
    articles: Sequence[Article],
    settings: IndexSettings,
    embedder: Embedder | None = None,
    progress: bool = True,
    extra_manifest: Mapping[str, Any] | None = None,
) -> BuildReport:
    """Make `articles` the whole content of the index, reusing stored vectors where possible."""
    if not articles:
        raise CorpusError("no articles to index: the corpus has no readable .txt, .md, .html or .jsonl file")
    check_unique_ids(articles)
    with writer_lock(index_dir):
        return write_locked(index_dir, articles, settings, embedder, progress, extra_manifest)


def write_locked(
    index_dir: Path,
    articles: Sequence[Article],
    settings: IndexSettings,
    embedder: Embedder | None,
    progress: bool,
    extra_manifest: Mapping[str, Any] | None,
    chunked: Sequence[Sequence[tuple[Chunk, str]]] | None = None,
) -> BuildReport:
    """`write_articles` for a caller holding the writer lock: the model is loaded only now.

    `chunked` may hold the chunks of each article, with their embedded texts, when they were
    cut elsewhere (`chunks_with_texts`, run by Ray workers); else they are cut here.
    """
    started = time.perf_counter()
    embedder = embedder or make_embedder(settings.embed, progress=progress)
    previous = _previous(index_dir, embedder)
    settings = keep_calibration(settings, previous)
    settings = replace(
        settings, store=settled(settings.store, index_dir, previous.manifest if previous else None)
    )
    chunks, texts = _chunk_all(articles, settings, chunked)
    items = [(c.embed_hash, t) for c, t in zip(chunks, texts)]
    vectors, embedded = vectors_for(items, previous, lambda: embedder, embedder.dimension, progress)
    known = stored_tokens(previous)
    tokens = [tokens_of(known, digest, text) for digest, text in items]
    change = {"change": {"kind": "build", "embedded": embedded, "reused": len(chunks) - embedded}}
    write_index(
        index_dir,
        articles=articles,
        chunks=chunks,
        vectors=vectors,
        settings=settings,
        model=_model_info(embedder),
        extra_files=keyword_files(tokens),
        extra_manifest={**(extra_manifest or {}), **change},
        texts=texts,
        progress=progress,
    )
    written = store_words(read_manifest(index_dir))
    seconds = time.perf_counter() - started
    report = BuildReport(index_dir, len(articles), len(chunks), embedded, len(chunks) - embedded, seconds)
    report.added = [a.id for a in articles]
    report.faiss = written
    return report


def keep_calibration(settings: IndexSettings, previous: LoadedIndex | None) -> IndexSettings:
    """Carry qa's retrieval section (e.g. a rule fitted by `qa calibrate --write`) over to a
    rebuild that does not set its own."""
    if previous is None or settings.retrieval:
        return settings
    earlier = previous.settings.retrieval
    return replace(settings, retrieval=earlier) if earlier else settings


def _list_files(roots: Sequence[Path], report: IngestReport) -> list[Path]:
    """The corpus files of every root, in order (links out of a root are reported in `report`)."""
    files = [f for root in roots for f in corpus_files(root, report)]
    if not files:
        names = ", ".join(repr(str(r)) for r in roots)
        raise CorpusError(f"no .txt, .md, .html or .jsonl file in {names}: point --corpus at your articles")
    return files


def corpus_manifest(roots: Sequence[Path]) -> dict[str, Any]:
    """The manifest's record of the corpus: its roots and the directory article ids are relative to."""
    id_root = build_id_root(roots)
    return {
        "corpus": {
            "roots": [str(r.resolve()) for r in roots],
            "id_root": str(id_root.resolve()) if id_root else None,
        }
    }


def build_id_root(roots: Sequence[Path]) -> Path | None:
    """Article ids are paths below the corpus directory when there is one, else file names."""
    return roots[0] if len(roots) == 1 and roots[0].is_dir() else None


def _chunk_all(
    articles: Sequence[Article],
    settings: IndexSettings,
    chunked: Sequence[Sequence[tuple[Chunk, str]]] | None = None,
) -> tuple[list[StoredChunk], list[str]]:
    """Chunk every article (or take the chunks cut elsewhere); vids are assigned in order."""
    stored: list[StoredChunk] = []
    texts: list[str] = []
    for number, article in enumerate(articles):
        for chunk, text in chunked[number] if chunked is not None else chunks_with_texts(article, settings):
            stored.append(StoredChunk(chunk, len(stored), content_hash(text)))
            texts.append(text)
    return stored, texts


def _previous(index_dir: Path, embedder: Embedder) -> LoadedIndex | None:
    """The current index, if it exists, is intact and was built with this embedder."""
    if not index_exists(index_dir):
        return None
    try:
        return load_index(index_dir, embedder.model_id, embedder.fingerprint)
    except IndexStoreError as exc:
        print(f"note: not reusing vectors of the existing index ({exc})", file=sys.stderr)
        return None


def _model_info(embedder: Embedder) -> dict:
    """The model description stored in the manifest."""
    return {
        "id": embedder.model_id,
        "backend": getattr(embedder, "backend", "torch"),
        "fingerprint": embedder.fingerprint,
        "dimension": embedder.dimension,
        "normalized": True,
        "prompts": getattr(embedder, "prompts", {}),
    }
