"""Searches: keyword search runs beside the embedding, each reading is searched once, and a
busy pool never makes a question wait."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

import qa.retrieve
from index.build import build_index
from qa import load_bot
from qa.retrieve import Hit, KeywordRetriever, Searches

WAIT = 30  # seconds: only a hang would take this long


class Recording:
    """A retriever that records the thread and the text of every search."""

    def __init__(self, early: bool, fail: bool = False) -> None:
        self.early = early
        self.fail = fail
        self.calls: list[tuple[str, str]] = []
        self.started = threading.Event()

    def search(self, query: str, vector: np.ndarray, k: int) -> list[Hit]:
        self.started.set()
        self.calls.append((threading.current_thread().name, query))
        if self.fail:
            raise RuntimeError("keyword index unreadable")
        return [Hit(len(query) + i, 1.0) for i in range(k)]


class NeverStarts:
    """A pool that never starts what it is given: Searches cancels it and searches in place."""

    def submit(self, *args, **kwargs) -> Future:
        return Future()


def test_a_search_needing_no_vector_starts_before_the_vector_is_given():
    keyword, dense = Recording(early=True), Recording(early=False)
    searches = Searches([(dense, 1.0), (keyword, 2.0)], ["问题一", "问题一二"], k=3)
    # a keyword search runs on a pool thread without anyone asking for its ranking
    assert keyword.started.wait(WAIT)
    assert keyword.calls[0][0].startswith("wenda-search")
    assert not dense.calls
    vector = np.ones(4, dtype=np.float32)
    assert searches.ranking(1, 0, vector) == [3, 4, 5]
    assert searches.ranking(1, 1, vector) == [4, 5, 6]
    assert searches.ranking(0, 1, vector) == [4, 5, 6]
    assert dense.calls == [(threading.current_thread().name, "问题一二")]
    # asked again, nothing is searched again
    searches.ranking(1, 0, vector)
    searches.ranking(0, 1, vector)
    assert len(keyword.calls) == 2 and len(dense.calls) == 1


def test_a_search_the_busy_pool_has_not_started_runs_on_the_calling_thread(monkeypatch):
    pool = ThreadPoolExecutor(max_workers=1)
    release = threading.Event()
    pool.submit(release.wait, WAIT)  # the pool's only thread is busy
    monkeypatch.setattr(qa.retrieve, "_pool", lambda: pool)
    keyword = Recording(early=True)
    try:
        searches = Searches([(keyword, 1.0)], ["问题"], k=2)
        assert searches.ranking(0, 0, np.zeros(0, dtype=np.float32)) == [2, 3]
        assert keyword.calls == [(threading.current_thread().name, "问题")]
    finally:
        release.set()
        pool.shutdown(wait=True)
    assert len(keyword.calls) == 1  # the queued search was cancelled, not run as well


def test_no_search_is_handed_to_the_pool_while_its_threads_are_all_busy():
    taken = 0
    while qa.retrieve._FREE.acquire(blocking=False):  # as if every pool thread were searching
        taken += 1
    try:
        keyword = Recording(early=True)
        searches = Searches([(keyword, 1.0)], ["问题"], k=2)
        assert not keyword.calls  # nothing started
        assert searches.ranking(0, 0, np.zeros(0, dtype=np.float32)) == [2, 3]
        assert keyword.calls == [(threading.current_thread().name, "问题")]
    finally:
        for _ in range(taken):
            qa.retrieve._FREE.release()


def test_every_pool_thread_is_free_again_after_searches_run_fail_or_are_cancelled(monkeypatch):
    for fail, pool in ((False, None), (True, None), (False, NeverStarts)):
        if pool is not None:
            monkeypatch.setattr(qa.retrieve, "_pool", pool)
        keyword = Recording(early=True, fail=fail)
        searches = Searches([(keyword, 1.0)], ["一", "二", "三"], k=2)
        with contextlib.suppress(RuntimeError):
            searches.ranking(0, 0, np.zeros(0, dtype=np.float32))
        with contextlib.suppress(RuntimeError):
            searches.ranking(0, 1, np.zeros(0, dtype=np.float32))
        searches.close()  # the third: cancelled if not started
    deadline = time.monotonic() + WAIT  # a search the pool had started finishes on its own
    while _free_threads() < qa.retrieve.POOL_THREADS and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _free_threads() == qa.retrieve.POOL_THREADS


def _free_threads() -> int:
    free = 0
    while qa.retrieve._FREE.acquire(blocking=False):
        free += 1
    for _ in range(free):
        qa.retrieve._FREE.release()
    return free


def test_a_pool_shut_down_with_the_interpreter_searches_in_place(monkeypatch):
    pool = ThreadPoolExecutor(max_workers=1)
    pool.shutdown()
    monkeypatch.setattr(qa.retrieve, "_pool", lambda: pool)
    keyword = Recording(early=True)
    searches = Searches([(keyword, 1.0)], ["问题"], k=2)
    assert searches.ranking(0, 0, np.zeros(0, dtype=np.float32)) == [2, 3]
    assert keyword.calls == [(threading.current_thread().name, "问题")]
    assert _free_threads() == qa.retrieve.POOL_THREADS


def test_an_error_in_a_search_on_the_pool_reaches_the_question():
    keyword = Recording(early=True, fail=True)
    searches = Searches([(keyword, 1.0)], ["问题"], k=2)
    with pytest.raises(RuntimeError, match="keyword index unreadable"):
        searches.ranking(0, 0, np.zeros(0, dtype=np.float32))


def test_a_follow_up_searches_each_reading_once_and_answers_as_before(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    build_index(sample_corpus, tmp_path / "idx", embedder=fake_embedder, progress=False)
    bot = load_bot(tmp_path / "idx", embedder=fake_embedder)
    keyword = bot.retrievers[1][0]
    # 46 chunks: searched in place, as handing so short a search to a thread costs more
    assert isinstance(keyword, KeywordRetriever) and not keyword.early
    monkeypatch.setattr(qa.retrieve, "EARLY_CHUNKS", 40)
    assert KeywordRetriever(bot.keyword).early
    monkeypatch.setattr(keyword, "early", True)  # as in an index of EARLY_CHUNKS chunks
    searched: list[str] = []
    original = keyword.search

    def counting(query, vector, k):
        searched.append(query)
        return original(query, vector, k)

    monkeypatch.setattr(keyword, "search", counting)
    history = ["2024年中国与中亚五国的贸易额达到多少？"]
    asked = [("那2023年呢？", history), ("中亚国家重申恪守什么原则？", [])]
    beside = [bot.ask(question, history=earlier) for question, earlier in asked]
    # the follow-up is read alone and with the previous question: two texts, each searched once
    assert len(searched) == len(set(searched)) == 3
    # the answers are those of searching one after the other on the asking thread
    monkeypatch.setattr(qa.retrieve, "_pool", NeverStarts)
    in_place = [bot.ask(question, history=earlier) for question, earlier in asked]
    assert [a.to_dict() for a in in_place] == [a.to_dict() for a in beside]


@pytest.mark.parametrize("threads", [None, 1, 2])
def test_keyword_search_starts_beside_the_embedding_only_when_it_leaves_a_core(
    sample_corpus, tmp_path, fake_embedder, monkeypatch, threads
):
    monkeypatch.setattr(qa.retrieve, "POOL_THREADS", 2)
    monkeypatch.setattr("qa.bot.POOL_THREADS", 2)
    build_index(sample_corpus, tmp_path / "idx", embedder=fake_embedder, progress=False)
    bot = load_bot(tmp_path / "idx", embedder=fake_embedder)
    keyword = bot.retrievers[1][0]
    monkeypatch.setattr(keyword, "early", True)  # as in an index of EARLY_CHUNKS chunks
    started = threading.Event()
    original_search, original_embed = keyword.search, fake_embedder.embed_queries
    events: list[str] = []

    def search(query, vector, k):
        events.append("search")
        started.set()
        return original_search(query, vector, k)

    def embed(texts):
        if threads == 1:  # one thread: the search runs meanwhile (waited for, not raced)
            assert started.wait(WAIT)
        events.append("embed")
        return original_embed(texts)

    monkeypatch.setattr(keyword, "search", search)
    monkeypatch.setattr(fake_embedder, "embed_queries", embed)
    if threads is not None:
        monkeypatch.setattr(fake_embedder, "query_threads", threads, raising=False)
    bot.ask("中亚国家重申恪守什么原则？")
    # an embedder taking every core (or saying nothing of its threads) embeds first
    assert events == (["search", "embed"] if threads == 1 else ["embed", "search"])
