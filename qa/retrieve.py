"""Retrievers behind one protocol: each ranks chunk positions of the loaded index for a query.

`make_retrievers` picks them for an index: dense and keyword search, fused by the bot, or,
when the index's store runs hybrid search itself (Milvus), that one retriever. qa never
names a store: it asks index.store whether the loaded vectors can search both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.store import HybridSearcher, LoadedIndex, hybrid_searcher
from index.store.keyword import KeywordIndex
from index.store.vectors import search_on_one_thread
from qa.settings import RetrievalSettings


@dataclass(frozen=True)
class Hit:
    """A chunk position in the loaded index, with the retriever's own score."""

    position: int
    score: float


class Retriever(Protocol):
    """Anything that ranks chunks for a query (its text and its embedding)."""

    def search(self, query: str, vector: np.ndarray, k: int) -> list[Hit]: ...


class DenseRetriever:
    """Inner-product search over the index's normalised vectors (cosine similarity)."""

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

    def search(self, query: str, vector: np.ndarray, k: int) -> list[Hit]:
        """Return up to `k` hits for the query text, best first (the vector is not used)."""
        return [Hit(position, score) for position, score in self.keyword.search(query, k)]


class HybridRetriever:
    """Dense and keyword search fused by the store itself (Milvus hybrid_search with its RRFRanker),
    with the bot's fusion weights and RRF constant."""

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
