"""Build indexes: corpus → articles → chunks → vectors → a stored generation.

Vectors are reused for every chunk whose embedded text is unchanged (content hashes), so a
rebuild embeds only what is new; the keyword tokens are reused the same way. Every batch of
new vectors is written to a durable cache as it is embedded, so a build that is killed and
run again resumes: it embeds nothing twice. Vectors and tokens stream through files on disk
in batches (index.writer.spool_chunks). Adding and removing articles without a rebuild is
`index.update`.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from index.chunk import embed_text
from index.documents import Article, Chunk, content_hash
from index.embed import Embedder, make_embedder
from index.errors import CorpusError, IndexStoreError
from index.ingest import IngestReport, check_unique_ids, corpus_files, drop_duplicate_ids, read_corpus
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
from index.store.backends import settled, store_words
from index.store.keyword_writer import TokenSpool
from index.store.records import RecordSpool
from index.store.spool import EmbedCache, VectorSpool, record_spool, scratch_write
from index.writer import (
    BuildReport,
    EmbedRun,
    Reuse,
    chunks_with_texts,
    keyword_files,
    spool_chunks,
    stored_tokens,
)


def build_index(
    corpus: Path | Sequence[Path],
    index_dir: Path,
    settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    on_progress: OnProgress | None = None,
    echo: Callable[[str], None] | None = None,
) -> BuildReport:
    """Index every readable file of `corpus` into `index_dir`, replacing what it held.

    The writer lock is taken before any file is read or the model loaded, so a second
    writer fails at once. What is skipped (or read differently) is passed to `echo` as it
    happens, one line each, and listed in the report. `on_progress` hears the files read,
    the articles chunked, the chunks embedded and the write.

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
        articles = _read_files(files, roots, settings, ingest, on_progress)
        if not articles:
            raise CorpusError(ingest.nothing_read(roots))
        result = write_locked(
            index_dir,
            articles,
            settings,
            embedder,
            progress=progress,
            extra_manifest=corpus_manifest(roots),
            on_progress=on_progress,
        )
    result.skipped = ingest.skipped
    result.notes = ingest.notes
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
    if not articles:
        raise CorpusError("no articles to index: the corpus has no readable .txt, .md, .html or .jsonl file")
    check_unique_ids(articles)
    with writer_lock(index_dir):
        return write_locked(
            index_dir, articles, settings, embedder, progress, extra_manifest, on_progress=on_progress
        )


def write_locked(
    index_dir: Path,
    articles: Sequence[Article],
    settings: IndexSettings,
    embedder: Embedder | None,
    progress: bool,
    extra_manifest: Mapping[str, Any] | None,
    on_progress: OnProgress | None = None,
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
    milvus = settings.store.backend == "milvus"  # its writer indexes the texts: they are kept
    records = record_spool(index_dir)
    vectors = tokens = chunks = None
    try:
        with scratch_write(index_dir, "the record scratch file"):
            texts = _chunk_all(articles, settings, records, chunked, on_progress, keep_texts=milvus)
            chunks, _ = records.finish()  # the chunks, read back from disk a batch at a time
        by_id = {a.id: a for a in articles}

        def text_of(position: int, chunk: StoredChunk) -> str:
            if texts:
                return texts[position]
            return embed_text(chunk.chunk, by_id[chunk.chunk.article_id], settings.chunk)

        cache = EmbedCache(index_dir, embedder.fingerprint, embedder.dimension)
        reuse = Reuse(previous, cache)
        todo = sum(digest not in reuse for digest in chunks.embed_hashes())
        run = EmbedRun(lambda: embedder, todo, progress, on_progress, cache)
        vectors = VectorSpool(index_dir, embedder.dimension)
        tokens = TokenSpool.beside(index_dir)
        spool_chunks(chunks, text_of, reuse, run, stored_tokens(previous), vectors, tokens)
        run.close()
        embedded = run.done
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
            texts=texts or None,
            progress=progress,
            records=records.path,
        )
    finally:
        records.abort()
        if chunks is not None:
            chunks.records.close()
        records.path.unlink(missing_ok=True)  # moved into the generation when it was written
        if vectors is not None:
            vectors.close()
        if tokens is not None:
            shutil.rmtree(tokens.scratch, ignore_errors=True)
    cache.clear()  # its vectors are in the live generation now
    written = store_words(read_manifest(index_dir))
    report(on_progress, "write", 1, 1)
    seconds = time.perf_counter() - started
    result = BuildReport(index_dir, len(articles), len(chunks), embedded, len(chunks) - embedded, seconds)
    result.added = [a.id for a in articles]
    result.faiss = written
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


def _list_files(roots: Sequence[Path], ingest: IngestReport) -> list[Path]:
    """The corpus files of every root, in order (links out of a root are reported in `ingest`)."""
    files = [f for root in roots for f in corpus_files(root, ingest)]
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


def _read_files(
    files: Sequence[Path],
    roots: Sequence[Path],
    settings: IndexSettings,
    ingest: IngestReport,
    on_progress: OnProgress | None = None,
) -> list[Article]:
    """Read `files` into articles, file by file so that `on_progress` hears each one.

    What is skipped goes to `ingest`; an id given twice is kept by the first file read.
    """
    root = build_id_root(roots)
    articles: list[Article] = []
    first: dict[str, Article] = {}
    report(on_progress, "read", 0, len(files))
    for done, path in enumerate(files, 1):
        found, _ = read_corpus([path], root=root, steps=settings.clean.steps, report=ingest)
        articles.extend(drop_duplicate_ids(found, ingest, first))
        report(on_progress, "read", done, len(files))
    ingest.articles = len(articles)
    return articles


def build_id_root(roots: Sequence[Path]) -> Path | None:
    """Article ids are paths below the corpus directory when there is one, else file names."""
    return roots[0] if len(roots) == 1 and roots[0].is_dir() else None


def _chunk_all(
    articles: Sequence[Article],
    settings: IndexSettings,
    records: RecordSpool,
    chunked: Sequence[Sequence[tuple[Chunk, str]]] | None = None,
    on_progress: OnProgress | None = None,
    keep_texts: bool = False,
) -> list[str]:
    """Chunk every article (or take the chunks cut elsewhere) into `records`, with the
    articles; vids are assigned in order.

    The embedded texts are returned only with `keep_texts` (else they are made again, a
    batch at a time, when they are needed: `index.chunk.embed_text` is cheap).
    """
    texts: list[str] = []
    for done, article in enumerate(articles, 1):
        records.add_article(article)
        cut = chunked[done - 1] if chunked is not None else chunks_with_texts(article, settings)
        for chunk, text in cut:
            records.add_chunk(StoredChunk(chunk, records.chunks, content_hash(text)))
            if keep_texts:
                texts.append(text)
        report(on_progress, "chunk", done, len(articles))
    return texts


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
