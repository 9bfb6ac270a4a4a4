"""Concurrent query embeddings are batched, and each caller gets its own rows."""

from __future__ import annotations

import threading

import numpy as np

from ui.batching import BatchingEmbedder


class _SlowCounting:
    model_id, fingerprint, dimension = "fake", "f", 64

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0
        self.gate = threading.Event()

    def embed_queries(self, texts):
        self.calls += 1
        self.gate.wait(2)  # hold the first call so the others queue up behind it
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=False):
        return self.inner.embed_passages(texts)


def test_waiting_questions_share_model_calls_and_get_their_own_vectors(fake_embedder):
    slow = _SlowCounting(fake_embedder)
    batcher = BatchingEmbedder(slow)
    questions = [f"问题{i}号关于峰会" for i in range(12)]
    results: dict[int, np.ndarray] = {}

    def ask(i: int) -> None:
        results[i] = batcher.embed_queries([questions[i]])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    slow.gate.set()
    for t in threads:
        t.join(10)
    assert slow.calls < 12
    for i, question in enumerate(questions):
        np.testing.assert_allclose(results[i][0], fake_embedder.embed_queries([question])[0])


def test_errors_reach_every_waiting_caller(fake_embedder):
    class Broken(_SlowCounting):
        def embed_queries(self, texts):
            raise RuntimeError("model failed")

    batcher = BatchingEmbedder(Broken(fake_embedder))
    try:
        batcher.embed_queries(["问题"])
    except RuntimeError as exc:
        assert "model failed" in str(exc)
    else:
        raise AssertionError("the error was swallowed")
