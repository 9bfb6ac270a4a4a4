"""What a build and an update share: chunking with embedded texts, reusing stored vectors and
tokens, embedding the rest in batches, the keyword files of a generation, and the report.

A chunk's vector and tokens depend only on its embedded text, so both are looked up by the
text's content hash (`embed_hash`) in the previous generation, and then in the durable
embedding cache a killed build left (index.store.spool.EmbedCache), before anything is
computed. Every batch the model returns goes to that cache at once (fsync'd), so running
the same build again embeds nothing twice.

A build streams (`spool_chunks`): the chunks are taken BATCH_CHUNKS at a time; their vectors
go to a VectorSpool file and their tokens to a TokenSpool file, so no list of every vector
or every token list is ever held.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index.chunk import chunk_article, embed_text
from index.documents import Article, Chunk
from index.embed import Embedder
from index.progress import OnProgress, report
from index.settings import IndexSettings
from index.store import LoadedIndex, StoredChunk
from index.store.generations import FileWriter
from index.store.keyword import KEYWORD_DIR, TOKENS_DIR
from index.store.keyword_writer import TokenSpool
from index.store.spool import EmbedCache, VectorSpool
from index.text import tokenize

EMBED_BATCH = 256  # texts per embedder call: large enough to batch well, small enough for a live progress bar
PROGRESS_BATCH = 32  # with a progress callback (a server's page): counts that move every few seconds
BATCH_CHUNKS = 4096  # chunks a build streams at a time (their texts, vectors and tokens)


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
    cache: EmbedCache | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for (embed hash, embedded text) pairs, and how many had to be embedded.

    A text embedded before is reconstructed from `previous` or read from `cache`; the rest
    are embedded (each batch appended to `cache` as it comes), and only then is `embedder()`
    called (so a model is loaded only when something is new). `on_progress` hears the
    embedded chunks (stage "embed").
    """
    reuse = Reuse(previous, cache)
    todo = [digest for digest, _ in items if digest not in reuse]
    run = EmbedRun(embedder, len(dict.fromkeys(todo)), progress, on_progress, cache)
    vectors = reuse.fill(items, run, dimension)
    run.close()
    return vectors, run.done


class Reuse:
    """Where a chunk's vector comes from when its embedded text was embedded before."""

    def __init__(self, previous: LoadedIndex | None, cache: EmbedCache | None) -> None:
        self.previous, self.cache = previous, cache
        self.vids = {c.embed_hash: c.vid for c in previous.chunks} if previous else {}

    def __contains__(self, digest: str) -> bool:
        return digest in self.vids or (self.cache is not None and digest in self.cache)

    def fill(self, items: Sequence[tuple[str, str]], run: EmbedRun, dimension: int) -> np.ndarray:
        """The vectors of `items` in order: embedded (by `run`) when unknown, else reused."""
        new = {d: t for d, t in items if d not in self and d not in run.fresh}
        run.embed(list(new), list(new.values()))
        vectors = np.zeros((len(items), dimension), dtype=np.float32)
        stored = [row for row, (d, _) in enumerate(items) if d in self.vids]
        if stored and self.previous is not None:
            vectors[stored] = self.previous.vectors.reconstruct([self.vids[items[r][0]] for r in stored])
        cached = [row for row, (d, _) in enumerate(items) if d not in self.vids]
        if cached:
            vectors[cached] = run.vectors([items[r][0] for r in cached])
        return vectors


class EmbedRun:
    """Embeds texts in batches for one build or update: one progress bar counted in chunks,
    `on_progress` told, and each batch appended to the durable cache as it finishes."""

    def __init__(
        self,
        embedder: Callable[[], Embedder],
        total: int,
        progress: bool,
        on_progress: OnProgress | None,
        cache: EmbedCache | None,
    ) -> None:
        from tqdm import tqdm

        self._embedder, self.total, self.on_progress, self.cache = embedder, total, on_progress, cache
        self.done = 0
        self.fresh: dict[str, np.ndarray] = {}  # without a cache: this run's vectors by hash
        # nothing to embed: no bar and no "embed" stage, as before a build streamed
        self._bar = tqdm(
            total=total, unit="chunk", desc="embedding", disable=not progress or not total, file=sys.stderr
        )
        if total:
            report(on_progress, "embed", 0, total)

    def embed(self, digests: Sequence[str], texts: Sequence[str]) -> None:
        """Embed `texts` (whose hashes are `digests`) and keep their vectors."""
        if not texts:
            return
        at = 0
        for batch in _batches(self._embedder(), texts, self.on_progress is not None):
            batch = np.asarray(batch, dtype=np.float32)
            names = digests[at : at + len(batch)]
            if self.cache is not None:
                self.cache.append(names, batch)
            else:
                self.fresh.update(zip(names, batch))
            at += len(batch)
            self.done += len(batch)
            self._bar.update(len(batch))
            report(self.on_progress, "embed", self.done, self.total)

    def vectors(self, digests: Sequence[str]) -> np.ndarray:
        """The vectors of texts embedded by this run or an earlier, killed one (in the cache)."""
        if self.cache is not None:
            return self.cache.read(digests)
        return np.stack([self.fresh[d] for d in digests])

    def close(self) -> None:
        self._bar.close()


def _batches(embedder: Embedder, texts: Sequence[str], small: bool) -> Iterable[np.ndarray]:
    """The vectors of `texts`, a batch at a time, in order."""
    size = PROGRESS_BATCH if small else EMBED_BATCH
    if isinstance(embedder, BatchEmbedder):
        return embedder.embed_batches(texts, size)
    return (
        embedder.embed_passages(texts[start : start + size], progress=False)
        for start in range(0, len(texts), size)
    )


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

    parts = []
    done = 0
    report(on_progress, "embed", 0, len(texts))
    with tqdm(total=len(texts), unit="chunk", desc="embedding", disable=not progress, file=sys.stderr) as bar:
        for batch in _batches(embedder, texts, on_progress is not None):
            parts.append(np.asarray(batch, dtype=np.float32))
            done += len(batch)
            bar.update(len(batch))
            report(on_progress, "embed", done, len(texts))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def spool_chunks(
    chunks: Sequence[StoredChunk],
    text_of: Callable[[int, StoredChunk], str],
    reuse: Reuse,
    run: EmbedRun,
    known: StoredTokens,
    vectors: VectorSpool,
    tokens: TokenSpool,
) -> None:
    """Stream the chunks' vectors into `vectors` and their tokens into `tokens`, in chunk order,
    BATCH_CHUNKS at a time (`chunks` may be records on disk, read a slice at a time);
    `text_of(position, chunk)` is the chunk's embedded text, made only when needed."""
    for start in range(0, len(chunks), BATCH_CHUNKS):
        batch = chunks[start : start + BATCH_CHUNKS]
        texts = {
            row: text_of(start + row, stored)
            for row, stored in enumerate(batch)
            if stored.embed_hash not in reuse or stored.embed_hash not in known
        }
        items = [(stored.embed_hash, texts.get(row, "")) for row, stored in enumerate(batch)]
        vectors.append(reuse.fill(items, run, vectors.dimension))
        for row, stored in enumerate(batch):
            tokens.add(tokens_of(known, stored.embed_hash, partial(texts.__getitem__, row)))


class StoredTokens:
    """The stored keyword tokens of the previous generation, by embed hash, read from its
    `keyword/tokens/` files (ids memory-mapped) one chunk at a time, never as lists of all."""

    def __init__(self, previous: LoadedIndex | None) -> None:
        self.rows: dict[str, int] = {}
        folder = previous.path(KEYWORD_DIR) / TOKENS_DIR if previous else None
        if previous is None or folder is None or not (folder / "offsets.npy").is_file():
            return  # an older index: its chunks are tokenised again
        self.offsets = np.load(folder / "offsets.npy", allow_pickle=False)
        if len(self.offsets) - 1 != len(previous.chunks):
            return
        self.vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        self.ids = np.load(folder / "ids.npy", mmap_mode="r", allow_pickle=False)
        self.rows = {c.embed_hash: i for i, c in enumerate(previous.chunks)}

    def __contains__(self, digest: str) -> bool:
        return digest in self.rows

    def get(self, digest: str) -> list[str] | None:
        """The tokens of the chunk whose embedded text has hash `digest`, or None."""
        row = self.rows.get(digest)
        if row is None:
            return None
        vocab = self.vocab
        return [vocab[t] for t in self.ids[self.offsets[row] : self.offsets[row + 1]].tolist()]


def stored_tokens(previous: LoadedIndex | None) -> StoredTokens:
    """The stored keyword tokens of every chunk of `previous`, by embed hash (none for an older index)."""
    return StoredTokens(previous)


def tokens_of(known: StoredTokens, digest: str, text: str | Callable[[], str]) -> list[str]:
    """The keyword tokens of an embedded text: the stored ones when its hash is `known`, else
    its tokenisation (`text` may be a function, called only then)."""
    found = known.get(digest)
    if found is not None:
        return found
    return tokenize(text() if callable(text) else text)


def keyword_files(tokens: TokenSpool) -> dict[str, FileWriter]:
    """The extra files of a generation that hold the BM25 index of the spooled tokens."""
    return {KEYWORD_DIR: tokens.finish}
