"""Batch the query embeddings of concurrent requests into one model call.

`BatchingEmbedder` wraps an Embedder. Threads calling `embed_queries` put their texts on a
queue; one worker takes everything waiting (up to `max_batch` texts), embeds it in one
`embed_queries` call, and hands each caller its rows. Under load, 16 waiting questions
cost one forward pass of batch 16 instead of 16 passes of batch 1 fighting for 2 cores.

A batch that fails is retried one caller at a time, so a text the model cannot take (say a
lone surrogate the tokenizer cannot encode) fails its own caller only, never its neighbours.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

import numpy as np


class _Job:
    """One caller's texts, and where its vectors (or error) are handed back."""

    __slots__ = ("done", "error", "result", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = threading.Event()
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None


class BatchingEmbedder:
    """An Embedder whose query embeddings are batched across threads."""

    def __init__(self, inner, max_batch: int = 32) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.fingerprint = inner.fingerprint
        self.dimension = inner.dimension
        self.query_threads = getattr(inner, "query_threads", None)
        self.max_batch = max_batch
        self.batches: list[int] = []  # size of every model call (bounded), for benchmarks and tests
        self._queue: queue.Queue[_Job] = queue.Queue()
        threading.Thread(target=self._work, name="wenda-batcher", daemon=True).start()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed the texts together with whatever other threads are waiting to embed."""
        job = _Job(list(texts))
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        assert job.result is not None  # a finished job holds its vectors or its error
        return job.result

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Passages are embedded directly (indexing is not latency-bound)."""
        return self.inner.embed_passages(texts, progress=progress)

    def _work(self) -> None:
        while True:
            jobs = [self._queue.get()]
            size = len(jobs[0].texts)
            while size < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                jobs.append(job)
                size += len(job.texts)
            try:
                self._run(jobs)
            except BaseException as exc:  # noqa: BLE001 - the worker must not die: callers get the error
                for job in jobs:
                    if not job.done.is_set():
                        job.error = exc
                        job.done.set()

    def _run(self, jobs: list[_Job]) -> None:
        texts = [t for job in jobs for t in job.texts]
        try:
            vectors = self.inner.embed_queries(texts)
        except Exception as exc:  # noqa: BLE001 - any failure goes to its caller(s)
            if len(jobs) == 1:
                jobs[0].error = exc
                jobs[0].done.set()
            else:  # isolate the failing caller(s): the others still get their vectors
                for job in jobs:
                    self._run([job])
            return
        self.batches = [*self.batches[-999:], len(texts)]
        row = 0
        for job in jobs:
            job.result = vectors[row : row + len(job.texts)]
            row += len(job.texts)
            job.done.set()
