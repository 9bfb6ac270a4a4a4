"""What a build and an update share: chunking with embedded texts, reusing stored vectors and
tokens, embedding the rest in batches, the keyword files of a generation, and the report.

A chunk's vector and tokens depend only on its embedded text, so both are looked up by the
text's content hash (`embed_hash`) in the previous generation before anything is computed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index.chunk import chunk_article, embed_text
from index.documents import Article, Chunk
from index.embed import Embedder
from index.progress import OnProgress, report
from index.settings import IndexSettings
from index.store import LoadedIndex
from index.store.generations import FileWriter
from index.store.keyword import KEYWORD_DIR, TOKENS_DIR, ChunkTokens, write_keyword_index
from index.text import tokenize

EMBED_BATCH = 256  # texts per embedder call: large enough to batch well, small enough for a live progress bar
PROGRESS_BATCH = 32  # with a progress callback (a server's page): counts that move every few seconds


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
    notes: list[tuple[str, str]] = field(default_factory=list)
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
            f"in {self.seconds:.1f} s{rate}{self._skipped_words()} -> {self.index_dir}"
        )

    def _skipped_words(self) -> str:
        return f"; {len(self.skipped)} skipped" if self.skipped else ""

    def update_summary(self) -> str:
        """One line for people after an add or remove."""
        changes = (
            f"{len(self.added)} added, {len(self.replaced)} replaced, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged"
        )
        return (
            f"{changes}; {self.embedded} chunks embedded, {self.reused} kept; {self.faiss}; "
            f"now {self.articles} articles, {self.chunks} chunks; {self.seconds:.1f} s"
            f"{self._skipped_words()} -> {self.index_dir}"
        )


def chunks_with_texts(article: Article, settings: IndexSettings) -> list[tuple[Chunk, str]]:
    """The chunks of an article, each with the text that is embedded for it."""
    return [(c, embed_text(c, article, settings.chunk)) for c in chunk_article(article, settings.chunk)]


def vectors_for(
    items: Sequence[tuple[str, str]],
    previous: LoadedIndex | None,
    embedder: Callable[[], Embedder],
    dimension: int,
    progress: bool,
    on_progress: OnProgress | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for (embed hash, embedded text) pairs, and how many had to be embedded.

    A text embedded before is reconstructed from `previous`; the rest are embedded, and only
    then is `embedder()` called (so a model is loaded only when something is new).
    `on_progress` hears the embedded chunks (stage "embed").
    """
    vectors = np.zeros((len(items), dimension), dtype=np.float32)
    known = {c.embed_hash: c.vid for c in previous.chunks} if previous else {}
    reuse = [row for row, (digest, _) in enumerate(items) if digest in known]
    todo = [row for row, (digest, _) in enumerate(items) if digest not in known]
    if reuse and previous is not None:
        vectors[reuse] = previous.vectors.reconstruct([known[items[row][0]] for row in reuse])
    if todo:
        vectors[todo] = embed_passages(embedder(), [items[row][1] for row in todo], progress, on_progress)
    return vectors, len(todo)


@runtime_checkable
class BatchEmbedder(Protocol):
    """An embedder that embeds a whole list elsewhere (index.distributed: a Ray actor pool) and
    hands back the vectors of each batch of texts, in order, as it finishes."""

    def embed_batches(self, texts: Sequence[str], batch_size: int) -> Iterator[np.ndarray]: ...


def embed_passages(
    embedder: Embedder, texts: Sequence[str], progress: bool, on_progress: OnProgress | None = None
) -> np.ndarray:
    """Embed texts in batches, with one progress bar counted in chunks (and `on_progress` told)."""
    from tqdm import tqdm

    size = EMBED_BATCH if on_progress is None else PROGRESS_BATCH
    if isinstance(embedder, BatchEmbedder):
        batches: Iterable[np.ndarray] = embedder.embed_batches(texts, size)
    else:
        batches = (
            embedder.embed_passages(texts[start : start + size], progress=False)
            for start in range(0, len(texts), size)
        )
    parts = []
    done = 0
    report(on_progress, "embed", 0, len(texts))
    with tqdm(total=len(texts), unit="chunk", desc="embedding", disable=not progress, file=sys.stderr) as bar:
        for batch in batches:
            parts.append(np.asarray(batch, dtype=np.float32))
            done += len(batch)
            bar.update(len(batch))
            report(on_progress, "embed", done, len(texts))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def stored_tokens(previous: LoadedIndex | None) -> dict[str, list[str]]:
    """The stored keyword tokens of every chunk of `previous`, by embed hash (empty for an older index)."""
    if previous is None:
        return {}
    tokens = ChunkTokens.load(previous.path(KEYWORD_DIR) / TOKENS_DIR)
    if tokens is None or len(tokens) != len(previous.chunks):
        return {}
    return {c.embed_hash: tokens.row(i) for i, c in enumerate(previous.chunks)}


def tokens_of(known: dict[str, list[str]], digest: str, text: str | Callable[[], str]) -> list[str]:
    """The keyword tokens of an embedded text: the stored ones when its hash is `known`, else
    its tokenisation (`text` may be a function, called only then)."""
    if digest in known:
        return known[digest]
    return tokenize(text() if callable(text) else text)


def keyword_files(tokens: Sequence[Sequence[str]]) -> dict[str, FileWriter]:
    """The extra files of a generation that hold the BM25 index of `tokens` (one list per chunk)."""
    return {KEYWORD_DIR: lambda path: write_keyword_index(path, tokens)}
