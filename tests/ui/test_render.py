"""Everything the chat shows is escaped: markup in questions or passages stays text."""

from __future__ import annotations

from ui.render import answer_html, escape, highlighted

ATTACKS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[点我](javascript:alert(1))", "**粗体** `code`"]


def _answer(text: str, answer: str | None = "答案") -> dict:
    citation = {"article_id": "a", "article_title": "<b>标题</b>", "section": "[节](http://x)", "paragraph": 2,
                "source": "人民日报", "date": "6月30日", "chunk_id": "c", "start": 0, "end": len(text)}
    return {"question": "q", "answer": answer, "abstained": answer is None,
            "passages": [{"rank": 1, "text": text, "score": 0.8, "highlights": [[0, 3]], "citation": citation}]}


def test_markup_in_passages_and_citations_is_escaped():
    for attack in ATTACKS:
        html = answer_html(_answer(attack + " 尾巴", answer=attack))
        assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html
        assert "](" not in html and "**" not in html and "`" not in html
        assert "&lt;" in html or "&#91;" in html or "&#42;" in html


def test_highlight_wraps_exactly_the_span():
    assert highlighted("贸易额达到948亿美元。", [(5, 11)]) == "贸易额达到<mark>948亿美元</mark>。"
    assert highlighted("<a>", [(0, 3)]) == "<mark>&lt;a&gt;</mark>"


def test_abstaining_answer_says_so_and_keeps_passages():
    html = answer_html(_answer("最接近的段落", answer=None))
    assert "没有找到" in html and "最接近的段落" in html


def test_escape_keeps_chinese_text():
    assert escape("中国—中亚“精神”") == "中国—中亚“精神”"
