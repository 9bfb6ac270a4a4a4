"""Citations of a passage and of the other articles printing its text, and their JSON shape."""

from __future__ import annotations

import json

from qa.cite import ALSO_IN_SHOWN, Citation, Passage, date_key, other_printings


def _cited(article_id: str, source: str | None, date: str | None, start: int = 0) -> Citation:
    return Citation(
        article_id, f"标题{article_id}", None, 1, source, date, f"{article_id}-{start}", start, 90
    )


def test_other_printings_are_one_an_article_earliest_first_without_the_passages_own():
    copies = [
        _cited("own", "甲报", "2025-06-01"),  # the passage's own article: not another printing
        _cited("c", "丙报", "2025-07-01"),
        _cited("b", "乙报", None),
        _cited("c", "丙报", "2025-07-01", start=200),  # a second copy in one article
        _cited("a", "乙报", "2025年6月30日"),
        _cited("e", "丁报", "2025-06-30"),
        _cited("d", "丁报", "2025-06-30"),
    ]
    shown, total = other_printings(copies, "own")
    # on one day by source (丁 sorts before 乙), then by id; a date unknown comes last
    assert [(c.article_id, c.start) for c in shown] == [("d", 0), ("e", 0), ("a", 0), ("c", 0), ("b", 0)]
    assert total == 5


def test_other_printings_are_capped_and_counted():
    copies = [_cited(f"p{i:02}", "报", f"2025-07-{i + 1:02}") for i in range(30)]
    shown, total = other_printings(reversed(copies), "p00")
    assert len(shown) == ALSO_IN_SHOWN and total == 29
    assert [c.article_id for c in shown] == [f"p{i:02}" for i in range(1, ALSO_IN_SHOWN + 1)]


def test_dates_sort_by_their_numbers_however_written():
    assert date_key("2025年7月10日") > date_key("2025-07-02") > date_key("2025年6月30日")
    assert date_key("20250630") == date_key("2025-06-30") == (2025, 6, 30)
    assert date_key("2025-06-30T08:00:00+08:00") > date_key("2025-06-30")
    assert date_key(None) == date_key("不详") == ()


def test_a_passage_lists_the_other_printings_in_its_json_always():
    citation = _cited("own", "甲报", "2025-06-01")
    alone = Passage(1, "正文。", 0.5, (), citation).to_dict()
    assert alone["also_in"] == [] and alone["also_in_total"] == 0
    printed = Passage(1, "正文。", 0.5, (), citation, also_in=(_cited("a", "乙报", None),), also_in_total=12)
    data = json.loads(json.dumps(printed.to_dict(), ensure_ascii=False))
    assert data["also_in_total"] == 12
    assert data["also_in"] == [
        {
            "article_id": "a",
            "article_title": "标题a",
            "section": None,
            "paragraph": 1,
            "source": "乙报",
            "date": None,
            "chunk_id": "a-0",
            "start": 0,
            "end": 90,
            "url": None,
        }
    ]
