"""Retrievers behind one protocol: each ranks chunk positions of the loaded index for a query.

`make_retrievers` picks them for an index: dense and keyword search, fused by the bot, or,
when the index's store runs hybrid search itself (Milvus), that one retriever. qa never
names a store: it asks index.store whether the loaded vectors can search both ways.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.store import HybridSearcher, LoadedIndex, hybrid_searcher
from index.store.keyword import KeywordIndex
from index.store.vectors import search_on_one_thread
from qa.settings import RetrievalSettings

# Keyword search runs beside the embedding (Searches) in an index of this many chunks or more:
# in the 46-chunk sample it takes a fraction of a millisecond, and handing it to a pool thread
# made `ask` 0.1-0.5 ms slower there; at 1M it takes about 7 ms (bench/RESULTS.md; sizes between
# were not measured)
EARLY_CHUNKS = 100_000


@dataclass(frozen=True)
class Hit:
    """A chunk position in the loaded index, with the retriever's own score."""

    position: int
    score: float


class Retriever(Protocol):
    """Anything that ranks chunks for a query (its text and its embedding); `early` when it
    reads the text only and takes long enough to be worth searching on another thread, beside
    the embedding and the dense search (Searches)."""

    early: bool

    def search(self, query: str, vector: np.ndarray, k: int) -> list[Hit]: ...


class DenseRetriever:
    """Inner-product search over the index's normalised vectors (cosine similarity)."""

    early = False

    def __init__(self, index: LoadedIndex) -> None:
        search_on_one_thread()  # questions are searched one at a time (see index.store.vectors)
        self.vectors = index.vectors
        self.chunks = index.chunks

    def search(self, query: str, vector: np.ndarray, k: int) -> list[Hit]:
        """Return up to `k` hits for a query vector, best first."""
        ids, scores = self.vectors.search(vector, k)
        positions = self.chunks.positions(ids.tolist())
        return [Hit(position, float(score)) for position, score in zip(positions, scores)]

    def cosines(self, positions: list[int], vectors: np.ndarray) -> dict[int, float]:
        """Best cosine of each chunk to any of the query vectors."""
        if not positions:
            return {}
        stored = self.vectors.reconstruct([self.chunks[p].vid for p in positions])
        best = (stored @ vectors.T).max(axis=1)
        return {p: float(c) for p, c in zip(positions, best)}


class KeywordRetriever:
    """BM25 over the index's keyword tokens (jieba words and character bigrams)."""

    def __init__(self, keyword: KeywordIndex) -> None:
        self.keyword = keyword
        # below EARLY_CHUNKS a search takes less than handing it to another thread costs
        self.early = keyword.num_docs >= EARLY_CHUNKS

    def search(self, query: str, vector: np.ndarray, k: int) -> list[Hit]:
        """Return up to `k` hits for the query text, best first (the vector is not used)."""
        return [Hit(position, score) for position, score in self.keyword.search(query, k)]


class HybridRetriever:
    """Dense and keyword search fused by the store itself (Milvus hybrid_search with its RRFRanker),
    with the bot's fusion weights and RRF constant."""

    early = False

    def __init__(self, index: LoadedIndex, store: HybridSearcher, settings: RetrievalSettings) -> None:
        self.store = store
        self.weights = (settings.dense_weight, settings.keyword_weight)
        self.rrf_k = settings.rrf_k
        self.chunks = index.chunks

    def search(self, query: str, vector: np.ndarray, k: int) -> list[Hit]:
        """Return up to `k` hits, best first (scores are the store's fused RRF scores)."""
        ids, scores = self.store.hybrid_search(query, vector, k, self.weights, self.rrf_k)
        positions = self.chunks.positions([int(vid) for vid in ids])
        return [Hit(position, float(score)) for position, score in zip(positions, scores)]


def make_retrievers(
    index: LoadedIndex, dense: DenseRetriever, keyword: KeywordRetriever, settings: RetrievalSettings
) -> list[tuple[Retriever, float]]:
    """The retrievers the bot fuses, with their weights: the store's hybrid search when it has
    one, else dense and keyword search (a retriever of weight 0 is left out)."""
    store = hybrid_searcher(index.vectors)
    if store is not None:
        return [(HybridRetriever(index, store, settings), 1.0)]
    pairs: list[tuple[Retriever, float]] = [
        (dense, settings.dense_weight),
        (keyword, settings.keyword_weight),
    ]
    return [(retriever, weight) for retriever, weight in pairs if weight > 0]


class Searches:
    """Every retriever's ranking of every reading of one question, each searched once.

    The searches that need no embedding (keyword search, in an index of EARLY_CHUNKS chunks or
    more) start at once on a pool thread, so they run while the calling thread searches by
    vector, and while it embeds the question when the bot makes the Searches before embedding
    (qa.bot.Bot.gather does when the embedding leaves a core free). faiss and onnxruntime
    release the GIL, and keyword search spends most of its time in numpy and pread, which do
    too. At ten million chunks that hides most of the embedding and the dense search behind the
    keyword search (bench/RESULTS.md). A search is handed to the pool only while one of its
    threads is free (under load the requests' own threads already keep the cores busy), and
    one the pool has not started by the time its ranking is asked for is run on the calling
    thread instead, so a busy pool never makes a question wait.
    """

    def __init__(
        self, retrievers: Sequence[tuple[Retriever, float]], texts: Sequence[str], k: int, start: bool = True
    ) -> None:
        """`start` False leaves the early searches to `start` (the bot calls it once the
        question is embedded, when the embedding takes every core)."""
        self.retrievers = [retriever for retriever, _ in retrievers]
        self.texts = list(texts)
        self.k = k
        self._rankings: dict[tuple[int, int], list[int]] = {}
        self._pending: dict[tuple[int, int], Future[list[Hit]]] = {}
        self._started = False
        if start:
            self.start()

    def start(self) -> None:
        """Start the early searches on the pool (once; later calls do nothing)."""
        if self._started:
            return
        self._started = True
        for r, retriever in enumerate(self.retrievers):
            if retriever.early:
                for q, text in enumerate(self.texts):
                    started = _start(retriever, text, self.k)
                    if started is not None:
                        self._pending[(r, q)] = started

    def ranking(self, retriever: int, reading: int, vector: np.ndarray) -> list[int]:
        """The chunk positions retriever number `retriever` ranks for reading number `reading`
        (whose embedding is `vector`), best first."""
        key = (retriever, reading)
        if key not in self._rankings:
            pending = self._pending.pop(key, None)
            if pending is not None and not pending.cancel():
                hits = pending.result()
            else:
                hits = self.retrievers[retriever].search(self.texts[reading], vector, self.k)
            self._rankings[key] = [hit.position for hit in hits]
        return self._rankings[key]

    def close(self) -> None:
        """Cancel the searches not yet started (the question was answered, or failed, without them)."""
        for pending in self._pending.values():
            pending.cancel()
        self._pending.clear()


_NO_VECTOR = np.zeros(0, dtype=np.float32)  # what a retriever that reads the text only is given
# one a core this process may run on
POOL_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_FREE = threading.BoundedSemaphore(POOL_THREADS)  # the pool's threads not given a search
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _start(retriever: Retriever, text: str, k: int) -> Future[list[Hit]] | None:
    """Start a search on a free pool thread; None when every one is busy."""
    if not _FREE.acquire(blocking=False):
        return None

    def search() -> list[Hit]:
        try:
            return retriever.search(text, _NO_VECTOR, k)
        finally:
            _FREE.release()

    def cancelled(future: Future[list[Hit]]) -> None:
        if future.cancelled():  # never run, so never released
            _FREE.release()

    try:
        future = _pool().submit(search)
    except RuntimeError:  # the interpreter is shutting down: search in place
        _FREE.release()
        return None
    future.add_done_callback(cancelled)
    return future


def _pool() -> ThreadPoolExecutor:
    """The process's threads for searches run beside the embedding and the dense search, one a
    core."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="wenda-search")
        return _POOL
