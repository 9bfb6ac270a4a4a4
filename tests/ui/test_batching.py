"""Concurrent query embeddings are batched, each caller gets its own rows, and the served bot batches."""

from __future__ import annotations

import threading

import numpy as np

from index.build import build_index
from index.settings import EmbedSettings, IndexSettings
from index.store import read_manifest
from ui.batching import BatchingEmbedder
from ui.service import load_batched_bot


class _SlowCounting:
    model_id, fingerprint, dimension = "fake", "f", 64

    def __init__(self, inner) -> None:
        self.inner, self.calls, self.sizes = inner, 0, []
        self.gate = threading.Event()

    def embed_queries(self, texts):
        self.calls += 1
        self.sizes.append(len(texts))
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


def test_a_failing_question_fails_only_its_own_caller(fake_embedder):
    """Issue 14.1: one bad item (a lone surrogate, which the tokenizer cannot encode) in a shared
    batch used to fail every question of that batch."""
    slow = _SlowCounting(fake_embedder)
    batcher = BatchingEmbedder(slow)
    questions = [f"问题{i}号关于峰会" for i in range(15)] + ["\ud800"]
    results: dict[int, np.ndarray] = {}
    errors: dict[int, BaseException] = {}

    def ask(i: int) -> None:
        try:
            results[i] = batcher.embed_queries([questions[i]])
        except Exception as exc:  # noqa: BLE001 - the test records what each caller got
            errors[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    slow.gate.set()
    for t in threads:
        t.join(10)
    assert set(errors) == {15} and isinstance(errors[15], UnicodeEncodeError)
    assert max(slow.sizes) > 1  # the bad question did share a batch with good ones
    for i in range(15):
        np.testing.assert_allclose(results[i][0], fake_embedder.embed_queries([questions[i]])[0])


def test_the_batcher_keeps_working_after_a_failure(fake_embedder):
    batcher = BatchingEmbedder(fake_embedder)
    try:
        batcher.embed_queries(["\udfff"])
    except UnicodeEncodeError:
        pass
    assert batcher.embed_queries(["峰会"]).shape == (1, fake_embedder.dimension)


def test_the_served_bot_batches_an_embedder_made_from_the_index_settings(
    sample_corpus, tmp_path, fake_embedder
):
    build_index(sample_corpus, tmp_path / "idx", embedder=fake_embedder, progress=False)
    asked: list[EmbedSettings] = []

    def embedder_for(settings: EmbedSettings):
        asked.append(settings)
        return fake_embedder

    bot = load_batched_bot(tmp_path / "idx", embedder_for=embedder_for)
    assert isinstance(bot.embedder, BatchingEmbedder) and bot.embedder.inner is fake_embedder
    assert asked == [IndexSettings.from_dict(read_manifest(tmp_path / "idx")["settings"]).embed]
    assert bot.ask("2024年中国与中亚五国的贸易额达到多少？").passages
