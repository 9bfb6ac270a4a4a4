"""The keyword index: ranked positive hits, traditional folded to simplified."""

from __future__ import annotations

import mmap
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import index.store.keyword
import index.store.vectors as index_store_vectors
from index.store.keyword import KeywordIndex, _advise, _page_range
from index.text import bigrams, tokenize

TEXTS = [
    "2024年，中国与中亚五国的贸易额达到948亿美元，再创历史新高。",
    "第二届中国—中亚峰会在哈萨克斯坦首都阿斯塔纳举行。",
    "吉尔吉斯斯坦总统扎帕罗夫出席峰会并签署阿斯塔纳宣言。",
    "The summit was held in Astana, Kazakhstan.",
    "中欧班列经中亚开行，贸易往来日益密切。中国同中亚国家贸易额持续增长。",
    "。",
]


@pytest.fixture(scope="module")
def keyword() -> KeywordIndex:
    return KeywordIndex.build(TEXTS)


def test_search_returns_positive_hits_best_first(keyword) -> None:
    hits = keyword.search("中国与中亚的贸易额是多少？", 10)
    assert [p for p, _ in hits][:2] in ([0, 4], [4, 0])
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert len(hits) < len(TEXTS)  # chunks without a shared token are not returned
    assert keyword.search("zzzz qqqq", 5) == []


def test_traditional_query_matches_simplified_text(keyword) -> None:
    assert keyword.search("貿易額達到多少", 1)[0][0] == 0
    assert bigrams("貿易") == ["贸易"]


def _full_scan(keyword: KeywordIndex, query: str, k: int) -> list[tuple[int, float]]:
    """The reference: every chunk scored by bm25s, sorted by score, ties by position."""
    scores = keyword.scores(query)
    positive = np.flatnonzero(scores > 0)
    top = positive[np.lexsort((positive, -scores[positive]))][:k]
    return [(int(i), float(scores[i])) for i in top]


@pytest.mark.parametrize(
    ("dense_factor", "prune"),
    [(0, 10**9), (8, 10**9), (10**9, 10**9), (8, 0)],  # over postings, by size, dense; MaxScore
)
def test_search_over_postings_ranks_exactly_as_scoring_every_chunk(
    tmp_path, monkeypatch, dense_factor, prune
) -> None:
    """Scoring only the query tokens' postings gives bm25s's scores and order, ties included,
    on a corpus with many exact ties; the index loaded memory-mapped answers the same."""
    monkeypatch.setattr("index.store.keyword.DENSE_FACTOR", dense_factor)
    monkeypatch.setattr("index.store.keyword.PRUNE_POSTINGS", prune)
    texts = [f"{TEXTS[i % 5]}第{i % 7}段。" for i in range(120)]
    built = KeywordIndex.build(texts)
    built.save(tmp_path / "kw")
    mapped = KeywordIndex.load(tmp_path / "kw")
    assert isinstance(mapped.bm25.scores["data"], np.memmap)
    queries = [
        "中国与中亚的贸易额是多少？",
        "峰会在哪里举行",
        "第3段",
        "阿斯塔纳宣言",
        "summit Astana",
        "zzzz",
    ]
    for query in queries:
        for k in (1, 5, 17, 200):
            expected = _full_scan(built, query, k)
            assert built.search(query, k) == expected == mapped.search(query, k), (query, k)
    assert mapped.idf("峰会") == built.idf("峰会") and mapped.knows("峰会") and not mapped.knows("zzzz")


def _zipf_corpus(seed: int, size: int) -> list[str]:
    """Chunks of words drawn with Zipf frequencies (a few words in most chunks, most in few),
    with lengths that vary, as in news text; many chunks are exact copies of others."""
    rng = np.random.default_rng(seed)
    words = [f"{chr(0x4E00 + 7 * i)}{chr(0x4E01 + 11 * i)}" for i in range(400)]
    weights = 1 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    texts = []
    for _ in range(size):
        drawn = rng.choice(len(words), size=int(rng.integers(3, 40)), p=weights)
        texts.append("，".join(words[w] for w in drawn))
    return texts + texts[: size // 10]


def test_maxscore_pruning_gives_the_exact_top_k_and_skips_what_cannot_rank(monkeypatch) -> None:
    """MaxScore search (every query pruned) returns exactly a full scan's hits, scores and tie
    order, for queries mixing rare and common words and for every k; and on such queries it
    does prune (stops before the last, longest list), rather than falling back to a scan."""
    monkeypatch.setattr("index.store.keyword.PRUNE_POSTINGS", 0)
    texts = _zipf_corpus(seed=7, size=3000)
    keyword = KeywordIndex.build(texts)
    rng = np.random.default_rng(11)
    pruned_queries = 0
    for _ in range(60):
        query = "，".join(rng.choice(texts).split("，")[: int(rng.integers(2, 9))])
        ids = keyword.bm25.get_tokens_ids(tokenize(query))
        indptr = keyword.bm25.scores["indptr"]
        spans = [(int(indptr[t]), int(indptr[t + 1])) for t in ids]
        for k in (1, 3, 10, 50):
            assert keyword.search(query, k) == _full_scan(keyword, query, k), (query, k)
        pruned_queries += len(spans) > 1 and keyword._search_pruned(spans, 10, ids) is not None
    assert pruned_queries >= 50, pruned_queries  # they stop before their longest list (60 of 60)


def test_maxscore_bounds_are_the_lists_largest_weights_and_prune_more_than_idf(tmp_path, monkeypatch) -> None:
    """Each term's largest weight (kept in MAXIMA_FILE) is MaxScore's bound: at most its IDF,
    so lists are read whole less often, with exactly the hits of a full scan; an index
    written before the file was kept searches with IDF bounds, and gives the same hits."""
    from dataclasses import replace

    from index.store.keyword import MAXIMA_FILE, smooth_idf

    monkeypatch.setattr("index.store.keyword.PRUNE_POSTINGS", 0)
    texts = _zipf_corpus(seed=5, size=3000)
    built = KeywordIndex.build(texts)
    data, indptr = built.bm25.scores["data"], built.bm25.scores["indptr"]
    assert built.maxima is not None
    for term in range(len(indptr) - 1):
        start, end = int(indptr[term]), int(indptr[term + 1])
        assert built.maxima[term] == (data[start:end].max() if end > start else 0.0)
        assert built.maxima[term] <= smooth_idf(end - start, built.num_docs)
    built.save(tmp_path / "kw")
    loaded = KeywordIndex.load(tmp_path / "kw")
    assert loaded.maxima is not None and np.array_equal(loaded.maxima, built.maxima)
    (tmp_path / "kw" / MAXIMA_FILE).unlink()  # as an index written before the maxima were kept
    older = KeywordIndex.load(tmp_path / "kw")
    assert older.maxima is None
    read: dict[str, int] = {"max": 0, "idf": 0}
    rng = np.random.default_rng(3)
    for _ in range(40):
        query = "，".join(rng.choice(texts).split("，")[: int(rng.integers(2, 9))])
        for name, keyword in (("max", built), ("idf", replace(built, maxima=None))):
            lists = 0

            def counted(name, start, end, own=keyword):
                nonlocal lists
                lists += name == "indices"
                return KeywordIndex._span(own, name, start, end)

            monkeypatch.setattr(keyword, "_span", counted)  # the index is in memory: only whole lists
            for k in (1, 10, 50):
                assert keyword.search(query, k) == _full_scan(keyword, query, k), (name, query, k)
            read[name] += lists
        assert older.search(query, 10) == _full_scan(built, query, 10)
    assert read["max"] < read["idf"], read  # fewer lists read whole


def test_pruned_searches_in_threads_share_scratch_arrays_and_leave_them_zeroed(monkeypatch) -> None:
    """Searches running at once each get their own partial-score array; afterwards at most
    KEEP_SCRATCH arrays are kept for later searches, all zeros again."""
    monkeypatch.setattr("index.store.keyword.PRUNE_POSTINGS", 0)
    monkeypatch.setattr("index.store.keyword._spare", [])
    texts = _zipf_corpus(seed=3, size=2000)
    keyword = KeywordIndex.build(texts)
    rng = np.random.default_rng(5)
    queries = ["，".join(rng.choice(texts).split("，")[:5]) for _ in range(40)]
    expected = [_full_scan(keyword, q, 10) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda q: keyword.search(q, 10), queries * 3))
    assert got == expected * 3
    spare = index.store.keyword._spare
    assert 1 <= len(spare) <= index.store.keyword.KEEP_SCRATCH
    assert all(len(a) == keyword.num_docs and not a.any() for a in spare)


def _smaps(folder: Path, field: str) -> dict[str, list[list[str]]]:
    """For each file of `folder` this process maps: the values of its mappings' `field` lines
    in /proc/self/smaps ("Rss:" -> [["12", "kB"], …])."""
    found: dict[str, list[list[str]]] = {}
    name = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):  # a mapping's first line ends in its file
            name = line.split()[-1] if len(line.split()) > 5 else ""
        elif line.startswith(field) and name.startswith(str(folder)):
            found.setdefault(Path(name).name, []).append(line.split()[1:])
    return found


def test_mapped_posting_arrays_are_read_at_random_and_ranges_cover_their_pages(tmp_path, monkeypatch):
    index = KeywordIndex.build([f"第{i}篇 峰会 在 阿斯塔纳 举行 合作 {i}" for i in range(3000)])
    index.save(tmp_path)
    warmed: list[str] = []
    monkeypatch.setattr(index_store_vectors, "warm_page_cache", lambda path: warmed.append(path.name))
    loaded = KeywordIndex.load(tmp_path)
    assert warmed == ["data.csc.index.npy", "indices.csc.index.npy"]  # as vectors.faiss is
    data = loaded.bm25.scores["data"]
    assert isinstance(data, np.memmap) and data.offset % mmap.PAGESIZE  # a .npy header before it
    for start, end in [(0, len(data)), (1, 2), (1000, 1500), (len(data) - 1, len(data))]:
        offset, length = _page_range(data, start, end)
        first = data.offset % mmap.ALLOCATIONGRANULARITY + start * data.itemsize
        assert offset % mmap.PAGESIZE == 0 and offset <= first
        assert offset + length == first + (end - start) * data.itemsize
        _advise(data, mmap.MADV_WILLNEED, start, end)  # a valid range: madvise accepts it
    if Path("/proc/self/smaps").exists():  # Linux: the kernel shows the advice as VmFlags "rr" (random read)
        flags = {name: values[-1] for name, values in _smaps(tmp_path, "VmFlags:").items()}
        assert "rr" in flags["data.csc.index.npy"] and "rr" in flags["indices.csc.index.npy"]
    assert loaded.search("阿斯塔纳 峰会 12", 3) == index.search("阿斯塔纳 峰会 12", 3)


@pytest.mark.parametrize("cached", [0.0, 0.5, 1.0])
def test_lists_not_in_the_page_cache_are_read_whole_and_the_hits_stay_exact(tmp_path, monkeypatch, cached):
    """A long list whose pages are not cached is read whole once its candidates are more than a
    PAGE_LOOKUPS-th of its pages (binary searches would read about as many pages, one by one);
    a cached one is binary-searched as before. Either way MaxScore's hits are a full scan's."""
    monkeypatch.setattr("index.store.keyword.PRUNE_POSTINGS", 0)
    monkeypatch.setattr("index.store.keyword.PREFETCH_POSTINGS", 64)
    monkeypatch.setattr("index.store.keyword._cached_share", lambda array, start, end: cached)
    texts = _zipf_corpus(seed=13, size=6000)
    KeywordIndex.build(texts).save(tmp_path)
    keyword = KeywordIndex.load(tmp_path)
    per_page = mmap.PAGESIZE // keyword.bm25.scores["indices"].itemsize
    length = 64 * per_page  # 64 pages of chunk positions
    by_pages = 64 // index.store.keyword.PAGE_LOOKUPS + 1  # candidates above a PAGE_LOOKUPS-th of the pages
    assert keyword._reads_whole(by_pages, 0, length) is (cached < 0.5)
    assert not keyword._reads_whole(64 // index.store.keyword.PAGE_LOOKUPS - 1, 0, length)
    assert keyword._reads_whole(length // 16, 0, length)  # in memory too: the binary searches cost more
    rng = np.random.default_rng(17)
    for _ in range(30):
        query = "，".join(rng.choice(texts).split("，")[: int(rng.integers(2, 9))])
        for k in (1, 10, 50):
            assert keyword.search(query, k) == _full_scan(keyword, query, k), (query, k)


@pytest.mark.parametrize("block", [16, 1024])
def test_lookups_read_only_the_blocks_holding_their_chunks_and_never_map_the_postings(
    tmp_path, monkeypatch, block
):
    """MaxScore's lookups into long lists find each chunk's block in the block firsts (in
    memory) and read only those blocks with pread; lists read whole are read with pread too.
    The hits are a full scan's, and no page of the mapped posting arrays becomes part of the
    process (they were 5.1 GB of its RSS at ten million chunks)."""
    from dataclasses import replace

    from index.store.keyword import BLOCKS_FILE

    monkeypatch.setattr("index.store.keyword.BLOCK", block)
    monkeypatch.setattr("index.store.keyword.PRUNE_POSTINGS", 0)
    monkeypatch.setattr("index.store.keyword.DENSE_FACTOR", 0)  # no scan of every chunk
    monkeypatch.setattr("index.store.keyword._cached_share", lambda array, start, end: 1.0)
    texts = _zipf_corpus(seed=21, size=6000)
    KeywordIndex.build(texts).save(tmp_path)
    keyword = KeywordIndex.load(tmp_path)
    assert keyword.firsts is not None and set(keyword.files) == {"data", "indices"}
    reference = KeywordIndex.load(tmp_path, mmap=False)  # read into memory: for the checks
    np.testing.assert_array_equal(keyword.firsts, reference.bm25.scores["indices"][::block])
    read = {"postings": 0, "listed": 0}
    real_lookup = KeywordIndex._lookup

    def lookup(self, wanted, start, end):
        spans: list[int] = []
        real_span = self._span
        self._span = lambda name, lo, hi: (
            spans.append((hi - lo) * (name == "indices")) or real_span(name, lo, hi)
        )
        try:
            return real_lookup(self, wanted, start, end)
        finally:
            del self._span
            read["postings"] += sum(spans)
            read["listed"] += end - start

    monkeypatch.setattr(KeywordIndex, "_lookup", lookup)
    rng = np.random.default_rng(23)
    for _ in range(40):
        query = "，".join(rng.choice(texts).split("，")[: int(rng.integers(2, 9))])
        for k in (1, 10, 50):
            assert keyword.search(query, k) == _full_scan(reference, query, k), (query, k)
    assert read["listed"] > 0  # lookups happened
    if block == 16:  # lists span many blocks: a lookup reads a fraction of them
        assert read["postings"] < read["listed"] / 2, read
    if Path("/proc/self/smaps").exists():
        mapped = {name: sum(int(v[0]) for v in values) for name, values in _smaps(tmp_path, "Rss:").items()}
        assert mapped.get("indices.csc.index.npy", 0) == mapped.get("data.csc.index.npy", 0) == 0, mapped
    # an index written before block firsts were kept binary-searches the mapping: same hits
    (tmp_path / BLOCKS_FILE).unlink()
    older = KeywordIndex.load(tmp_path)
    assert older.firsts is None
    query = "，".join(texts[7].split("，")[:5])
    assert replace(keyword, firsts=None).search(query, 10) == older.search(query, 10)
    for _ in range(10):
        query = "，".join(rng.choice(texts).split("，")[: int(rng.integers(2, 9))])
        assert older.search(query, 10) == _full_scan(reference, query, 10)


def test_cached_share_reads_the_page_cache_of_a_mapped_array(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(1 << 20, dtype=np.int32))  # 4 MB, just written: in the page cache
    mapped = np.load(path, mmap_mode="r")
    share = index.store.keyword._cached_share(mapped, 0, len(mapped))
    assert 0.0 <= share <= 1.0
    if index.store.keyword._mincore is not None:
        assert share > 0.9  # the kernel keeps a file it just wrote
    assert index.store.keyword._cached_share(np.arange(10), 0, 10) == 1.0  # in memory
