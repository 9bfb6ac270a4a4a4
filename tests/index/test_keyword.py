"""The keyword index: ranked positive hits, traditional folded to simplified."""

from __future__ import annotations

import numpy as np
import pytest

from index.store.keyword import KeywordIndex
from index.text import bigrams

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


@pytest.mark.parametrize("dense_factor", [0, 8, 10**9])  # always over postings, by size, always dense
def test_search_over_postings_ranks_exactly_as_scoring_every_chunk(
    tmp_path, monkeypatch, dense_factor
) -> None:
    """Scoring only the query tokens' postings gives bm25s's scores and order, ties included,
    on a corpus with many exact ties; the index loaded memory-mapped answers the same."""
    monkeypatch.setattr("index.store.keyword.DENSE_FACTOR", dense_factor)
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
