"""Build indexes: corpus → articles → chunks → vectors → a stored generation.

Vectors are reused for every chunk whose embedded text is unchanged (content hashes), so a
rebuild embeds only what is new; the keyword tokens are reused the same way. Adding and
removing articles without a rebuild is `index.update`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.chunk import chunk_article, embed_text
from index.config import IndexSettings, RetrievalSettings
from index.documents import Article, Chunk, content_hash
from index.embed import Embedder, make_embedder
from index.ingest import CorpusError, IngestReport, check_unique_ids, corpus_files, read_corpus
from index.keyword import KEYWORD_DIR, TOKENS_DIR, ChunkTokens, tokenize, write_keyword_index
from index.store import (
    IndexStoreError,
    LoadedIndex,
    StoredChunk,
    index_exists,
    load_index,
    write_index,
    writer_lock,
)

EMBED_BATCH = 256  # texts per embedder call: large enough to batch well, small enough for a live progress bar


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
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    faiss: str = ""

    def summary(self) -> str:
        """One line for people: articles, chunks, seconds, chunks per second."""
        rate = f", {self.embedded / self.seconds:.1f} chunks/s" if self.embedded and self.seconds else ""
        return (
            f"{self.articles} articles, {self.chunks} chunks ({self.embedded} embedded, {self.reused} reused) "
            f"in {self.seconds:.1f} s{rate} -> {self.index_dir}"
        )

    def update_summary(self) -> str:  # for index.update
        """One line for people after an add or remove."""
        changes = (
            f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged"
        )
        return (
            f"{changes}; {self.embedded} chunks embedded, {self.reused} kept; {self.faiss}; "
            f"now {self.articles} articles, {self.chunks} chunks; {self.seconds:.1f} s -> {self.index_dir}"
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
    if not articles:
        raise CorpusError(_nothing_read(roots, ingest))
    id_root = _build_id_root(roots)
    corpus_info = {
        "corpus": {
            "roots": [str(r.resolve()) for r in roots],
            "id_root": str(id_root.resolve()) if id_root else None,
        }
    }
    report = write_articles(
        index_dir, articles, settings, embedder, progress=progress, extra_manifest=corpus_info
    )
    report.skipped = ingest.skipped
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
    started = time.perf_counter()
    if not articles:
        raise CorpusError("no articles to index: the corpus has no readable .txt, .md, .html or .jsonl file")
    check_unique_ids(articles)
    embedder = embedder or make_embedder(settings.embed, progress=progress)
    with writer_lock(index_dir):
        previous = _previous(index_dir, embedder)
        settings = keep_calibration(settings, previous)
        chunks, texts = _chunk_all(articles, settings)
        vectors, embedded = _vectors_for(chunks, texts, previous, embedder, progress)
        tokens = _tokens_for(chunks, texts, previous)
        change = {"change": {"kind": "build", "embedded": embedded, "reused": len(chunks) - embedded}}
        generation = write_index(
            index_dir,
            articles=articles,
            chunks=chunks,
            vectors=vectors,
            settings=settings,
            model=_model_info(embedder),
            extra_files={KEYWORD_DIR: lambda path: write_keyword_index(path, tokens)},
            extra_manifest={**(extra_manifest or {}), **change},
        )
    seconds = time.perf_counter() - started
    report = BuildReport(index_dir, len(articles), len(chunks), embedded, len(chunks) - embedded, seconds)
    report.added = [a.id for a in articles]
    report.faiss = _faiss_words(generation)
    return report


def keep_calibration(settings: IndexSettings, previous: LoadedIndex | None) -> IndexSettings:
    """Carry a rule fitted by `qa calibrate --write` over to a rebuild that did not set its own."""
    if previous is None or settings.retrieval != RetrievalSettings():
        return settings
    earlier = previous.settings.retrieval
    if earlier.calibration == RetrievalSettings().calibration:
        return settings
    return replace(settings, retrieval=earlier)


def _read_all(roots: Sequence[Path], settings: IndexSettings) -> tuple[list[Article], IngestReport]:
    """Read every corpus root into one list of articles."""
    files = [f for root in roots for f in corpus_files(root)]
    if not files:
        names = ", ".join(repr(str(r)) for r in roots)
        raise CorpusError(f"no .txt, .md, .html or .jsonl file in {names}: point --corpus at your articles")
    return read_corpus(files, root=_build_id_root(roots), steps=settings.clean.steps)


def _build_id_root(roots: Sequence[Path]) -> Path | None:
    """Article ids are paths below the corpus directory when there is one, else file names."""
    return roots[0] if len(roots) == 1 and roots[0].is_dir() else None


def _nothing_read(roots: Sequence[Path], ingest: IngestReport) -> str:
    """The error for a corpus whose every file was skipped."""
    names = ", ".join(repr(str(r)) for r in roots)
    first = f"; first: {ingest.skipped[0][0]}: {ingest.skipped[0][1]}" if ingest.skipped else ""
    return f"no article could be read from {names} ({len(ingest.skipped)} files skipped{first})"


def _chunk_all(articles: Sequence[Article], settings: IndexSettings) -> tuple[list[StoredChunk], list[str]]:
    """Chunk every article; vids are assigned in order."""
    stored: list[StoredChunk] = []
    texts: list[str] = []
    for article in articles:
        for chunk, text in _chunks_with_texts(article, settings):
            stored.append(StoredChunk(chunk, len(stored), content_hash(text)))
            texts.append(text)
    return stored, texts


def _chunks_with_texts(article: Article, settings: IndexSettings) -> list[tuple[Chunk, str]]:
    """The chunks of an article, each with the text that is embedded for it."""
    return [(c, embed_text(c, article, settings.chunk)) for c in chunk_article(article, settings.chunk)]


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
        vectors[todo] = embed_passages(embedder, [texts[i] for i in todo], progress)
    return vectors, len(todo)


def embed_passages(embedder: Embedder, texts: Sequence[str], progress: bool) -> np.ndarray:
    """Embed texts in batches, with one progress bar counted in chunks."""
    from tqdm import tqdm

    parts = []
    with tqdm(total=len(texts), unit="chunk", desc="embedding", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            parts.append(np.asarray(embedder.embed_passages(batch, progress=False), dtype=np.float32))
            bar.update(len(batch))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def _tokens_for(
    chunks: Sequence[StoredChunk], texts: Sequence[str], previous: LoadedIndex | None
) -> list[list[str]]:
    """Keyword tokens for `chunks`: taken from `previous` when the embedded text is unchanged."""
    known = _stored_tokens(previous)
    return [known[c.embed_hash] if c.embed_hash in known else tokenize(t) for c, t in zip(chunks, texts)]


def _stored_tokens(previous: LoadedIndex | None) -> dict[str, list[str]]:
    """The stored tokens of every chunk of `previous`, by embed hash (empty for an older index)."""
    if previous is None:
        return {}
    tokens = ChunkTokens.load(previous.path(KEYWORD_DIR) / TOKENS_DIR)
    if tokens is None or len(tokens) != len(previous.chunks):
        return {}
    return {c.embed_hash: tokens.row(i) for i, c in enumerate(previous.chunks)}


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


def _faiss_words(generation: Path) -> str:
    """The FAISS index type of a written generation, for reports."""
    import json

    info = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))["faiss"]
    return f"FAISS {info['type']}"
