"""Retrievers: dense (FAISS) behind one small interface; each returns ranked chunk positions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.store import LoadedIndex


@dataclass(frozen=True)
class Hit:
    """A chunk position in the loaded index, with the retriever's own score."""

    position: int
    score: float


class Retriever(Protocol):
    """Anything that ranks chunks for a query."""

    def search(self, query: str, vector: np.ndarray | None, k: int) -> list[Hit]: ...


class DenseRetriever:
    """Inner-product search over the FAISS index of normalised vectors (cosine similarity).

    Questions are searched one at a time, and FAISS's OpenMP threads only slow a single query
    down: exact search over 100k vectors takes 7.4 ms on one thread against 15.5 ms on two
    (bench/scale.py), and idle OpenMP threads compete with the embedding model's. So a process
    that answers questions runs FAISS on one thread (HNSW and IVF search a single query on one
    thread anyway).
    """

    def __init__(self, index: LoadedIndex) -> None:
        import faiss

        faiss.omp_set_num_threads(1)
        self.faiss_index = index.faiss_index
        self.position_of = {c.vid: i for i, c in enumerate(index.chunks)}

    def search(self, query: str, vector: np.ndarray | None, k: int) -> list[Hit]:
        """Return up to `k` hits for a query vector, best first."""
        if vector is None or self.faiss_index.ntotal == 0:
            return []
        k = min(k, self.faiss_index.ntotal)
        scores, ids = self.faiss_index.search(vector.reshape(1, -1).astype(np.float32), k)
        return [Hit(self.position_of[int(v)], float(s)) for s, v in zip(scores[0], ids[0]) if v >= 0]
