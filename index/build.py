"""Build and update indexes: corpus → articles → chunks → vectors → a stored generation.

Vectors are reused for every chunk whose embedded text is unchanged (content hashes), so a
rebuild or an update embeds only what is new.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.chunk import chunk_article, embed_text
from index.config import IndexSettings
from index.documents import Article, content_hash
from index.embed import Embedder, SentenceTransformerEmbedder
from index.ingest import IngestReport, corpus_files, read_corpus
from index.keyword import KEYWORD_DIR, KeywordIndex
from index.store import (
    IndexStoreError,
    LoadedIndex,
    StoredChunk,
    index_exists,
    load_index,
    write_index,
    writer_lock,
)


@dataclass
class BuildReport:
    """What a build or update did."""

    index_dir: Path
    articles: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        rate = self.embedded / self.seconds if self.seconds else 0.0
        return (
            f"{self.articles} articles, {self.chunks} chunks ({self.embedded} embedded, {self.reused} reused) "
            f"in {self.seconds:.1f} s, {rate:.1f} chunks/s -> {self.index_dir}"
        )


def build_index(
    corpus: Path | Sequence[Path],
    index_dir: Path,
    settings: IndexSettings | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> BuildReport:
    """Index every readable file of `corpus` into `index_dir`, replacing what it held."""
    started = time.perf_counter()
    settings = settings or IndexSettings()
    roots = [corpus] if isinstance(corpus, Path) else list(corpus)
    articles, ingest = _read_all(roots, settings)
    report = write_articles(index_dir, articles, settings, embedder, progress=progress)
    report.skipped = ingest.skipped
    report.seconds = time.perf_counter() - started
    return report


def write_articles(
    index_dir: Path,
    articles: Sequence[Article],
    settings: IndexSettings,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> BuildReport:
    """Make `articles` the whole content of the index, reusing stored vectors where possible."""
    started = time.perf_counter()
    if not articles:
        raise ValueError("no articles to index: the corpus has no readable .txt, .md or .jsonl file")
    embedder = embedder or SentenceTransformerEmbedder(settings.embed, progress=progress)
    with writer_lock(index_dir):
        previous = _previous(index_dir, embedder)
        chunks, texts = _chunk_all(articles, settings)
        vectors, embedded = _vectors_for(chunks, texts, previous, embedder, progress)
        write_index(
            index_dir,
            articles=articles,
            chunks=chunks,
            vectors=vectors,
            settings=settings,
            model=_model_info(embedder),
            extra_files={KEYWORD_DIR: lambda path: KeywordIndex.build(texts).save(path)},
        )
    seconds = time.perf_counter() - started
    return BuildReport(index_dir, len(articles), len(chunks), embedded, len(chunks) - embedded, seconds)


def _read_all(roots: Sequence[Path], settings: IndexSettings) -> tuple[list[Article], IngestReport]:
    """Read every corpus root into one list of articles."""
    files = [f for root in roots for f in corpus_files(root)]
    base = roots[0] if len(roots) == 1 and roots[0].is_dir() else None
    return read_corpus(files, root=base, steps=settings.clean.steps)


def _chunk_all(articles: Sequence[Article], settings: IndexSettings) -> tuple[list[StoredChunk], list[str]]:
    """Chunk every article; vids are assigned in order."""
    stored: list[StoredChunk] = []
    texts: list[str] = []
    for article in articles:
        for chunk in chunk_article(article, settings.chunk):
            text = embed_text(chunk, article, settings.chunk)
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


def _vectors_for(
    chunks: Sequence[StoredChunk],
    texts: Sequence[str],
    previous: LoadedIndex | None,
    embedder: Embedder,
    progress: bool,
) -> tuple[np.ndarray, int]:
    """Vectors for `chunks`: reconstructed from `previous` when unchanged, embedded otherwise."""
    vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    known = {c.embed_hash: c.vid for c in previous.chunks} if previous else {}
    todo = [i for i, c in enumerate(chunks) if c.embed_hash not in known]
    for i, chunk in enumerate(chunks):
        if chunk.embed_hash in known:
            vectors[i] = previous.faiss_index.reconstruct(known[chunk.embed_hash])
    if todo:
        vectors[todo] = embedder.embed_passages([texts[i] for i in todo], progress=progress)
    return vectors, len(todo)


def _model_info(embedder: Embedder) -> dict:
    """The model description stored in the manifest."""
    return {
        "id": embedder.model_id,
        "fingerprint": embedder.fingerprint,
        "dimension": embedder.dimension,
        "normalized": True,
        "prompts": getattr(embedder, "prompts", {}),
    }
