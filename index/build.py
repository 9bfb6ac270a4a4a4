"""Build indexes: corpus → articles → chunks → vectors → a stored generation.

Vectors are reused for every chunk whose embedded text is unchanged (content hashes), so a
rebuild embeds only what is new; the keyword tokens are reused the same way. Adding and
removing articles without a rebuild is `index.update`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from index.documents import Article, content_hash
from index.embed import Embedder, make_embedder
from index.errors import CorpusError, IndexStoreError
from index.ingest import IngestReport, check_unique_ids, corpus_files, read_corpus
from index.progress import OnProgress, report
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
from index.store.added import added_file, added_times, read_added
from index.writer import BuildReport, chunks_with_texts, keyword_files, stored_tokens, tokens_of, vectors_for


def build_index(
    corpus: Path | Sequence[Path],
    index_dir: Path,
    settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    on_progress: OnProgress | None = None,
) -> BuildReport:
    """Index every readable file of `corpus` into `index_dir`, replacing what it held.

    `on_progress` hears the files read, the articles chunked, the chunks embedded and the write.
    """
    started = time.perf_counter()
    settings = settings or IndexSettings()
    roots = [corpus] if isinstance(corpus, Path) else list(corpus)
    articles, ingest = _read_all(roots, settings, on_progress)
    if not articles:
        raise CorpusError(ingest.nothing_read(roots))
    id_root = _build_id_root(roots)
    corpus_info = {
        "corpus": {
            "roots": [str(r.resolve()) for r in roots],
            "id_root": str(id_root.resolve()) if id_root else None,
        }
    }
    result = write_articles(
        index_dir,
        articles,
        settings,
        embedder,
        progress=progress,
        extra_manifest=corpus_info,
        on_progress=on_progress,
    )
    result.skipped = ingest.skipped
    result.seconds = time.perf_counter() - started
    return result


def write_articles(
    index_dir: Path,
    articles: Sequence[Article],
    settings: IndexSettings,
    embedder: Embedder | None = None,
    progress: bool = True,
    extra_manifest: Mapping[str, Any] | None = None,
    on_progress: OnProgress | None = None,
) -> BuildReport:
    """Make `articles` the whole content of the index, reusing stored vectors where possible."""
    started = time.perf_counter()
    if not articles:
        raise CorpusError("no articles to index: the corpus has no readable .txt, .md, .html or .jsonl file")
    check_unique_ids(articles)
    embedder = embedder or make_embedder(settings.embed, progress=progress)
    with writer_lock(index_dir):
        previous = _previous(index_dir, embedder)
        settings = keep_calibration(settings, previous)
        chunks, texts = _chunk_all(articles, settings, on_progress)
        items = [(c.embed_hash, t) for c, t in zip(chunks, texts)]
        vectors, embedded = vectors_for(
            items, previous, lambda: embedder, embedder.dimension, progress, on_progress
        )
        known = stored_tokens(previous)
        tokens = [tokens_of(known, digest, text) for digest, text in items]
        change = {"change": {"kind": "build", "embedded": embedded, "reused": len(chunks) - embedded}}
        report(on_progress, "write", 0, 1)
        write_index(
            index_dir,
            articles=articles,
            chunks=chunks,
            vectors=vectors,
            settings=settings,
            model=_model_info(embedder),
            extra_files={**keyword_files(tokens), **added_file(_added(previous, articles))},
            extra_manifest={**(extra_manifest or {}), **change},
        )
        faiss_type = read_manifest(index_dir)["faiss"]["type"]
        report(on_progress, "write", 1, 1)
    seconds = time.perf_counter() - started
    result = BuildReport(index_dir, len(articles), len(chunks), embedded, len(chunks) - embedded, seconds)
    result.added = [a.id for a in articles]
    result.faiss = f"FAISS {faiss_type}"
    return result


def _added(previous: LoadedIndex | None, articles: Sequence[Article]) -> dict[str, str]:
    """When each article was added: kept for articles the previous generation held unchanged."""
    old = previous.articles if previous else {}
    changed = {a.id for a in articles if a.id not in old or old[a.id].content_hash != a.content_hash}
    return added_times(read_added(previous), articles, changed)


def keep_calibration(settings: IndexSettings, previous: LoadedIndex | None) -> IndexSettings:
    """Carry qa's retrieval section (e.g. a rule fitted by `qa calibrate --write`) over to a
    rebuild that does not set its own."""
    if previous is None or settings.retrieval:
        return settings
    earlier = previous.settings.retrieval
    return replace(settings, retrieval=earlier) if earlier else settings


def _read_all(
    roots: Sequence[Path], settings: IndexSettings, on_progress: OnProgress | None = None
) -> tuple[list[Article], IngestReport]:
    """Read every corpus root into one list of articles (file by file when progress is reported)."""
    files = [f for root in roots for f in corpus_files(root)]
    if not files:
        names = ", ".join(repr(str(r)) for r in roots)
        raise CorpusError(f"no .txt, .md, .html or .jsonl file in {names}: point --corpus at your articles")
    if on_progress is None:
        return read_corpus(files, root=_build_id_root(roots), steps=settings.clean.steps)
    articles: list[Article] = []
    ingest = IngestReport()
    report(on_progress, "read", 0, len(files))
    for done, path in enumerate(files, 1):
        found, part = read_corpus([path], root=_build_id_root(roots), steps=settings.clean.steps)
        articles.extend(found)
        ingest.files += part.files
        ingest.skipped.extend(part.skipped)
        report(on_progress, "read", done, len(files))
    check_unique_ids(articles)
    ingest.articles = len(articles)
    return articles, ingest


def _build_id_root(roots: Sequence[Path]) -> Path | None:
    """Article ids are paths below the corpus directory when there is one, else file names."""
    return roots[0] if len(roots) == 1 and roots[0].is_dir() else None


def _chunk_all(
    articles: Sequence[Article], settings: IndexSettings, on_progress: OnProgress | None = None
) -> tuple[list[StoredChunk], list[str]]:
    """Chunk every article; vids are assigned in order."""
    stored: list[StoredChunk] = []
    texts: list[str] = []
    for done, article in enumerate(articles, 1):
        for chunk, text in chunks_with_texts(article, settings):
            stored.append(StoredChunk(chunk, len(stored), content_hash(text)))
            texts.append(text)
        report(on_progress, "chunk", done, len(articles))
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
