"""Everything the chat shows is escaped: markup in questions or passages stays text."""

from __future__ import annotations

import pytest

from ui.render import (
    also_in_html,
    answer_html,
    escape,
    group_by_article,
    highlighted,
    safe_url,
    split_passages,
    supports,
)

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[点我](javascript:alert(1))",
    "**粗体** `code`",
]


def _answer(text: str, answer: str | None = "答案") -> dict:
    citation = {
        "article_id": "a",
        "article_title": "<b>标题</b>",
        "section": "[节](http://x)",
        "paragraph": 2,
        "source": "人民日报",
        "date": "6月30日",
        "chunk_id": "c",
        "start": 0,
        "end": len(text),
    }
    return {
        "question": "q",
        "answer": answer,
        "abstained": answer is None,
        "passages": [{"rank": 1, "text": text, "score": 0.8, "highlights": [[0, 3]], "citation": citation}],
    }


def test_markup_in_passages_and_citations_is_escaped():
    for attack in ATTACKS:
        html = answer_html(_answer(attack + " 尾巴", answer=attack))
        assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html
        assert "](" not in html and "**" not in html and "`" not in html
        assert "&lt;" in html or "&#91;" in html or "&#42;" in html


def test_highlight_wraps_exactly_the_span():
    assert highlighted("贸易额达到948亿美元。", [(5, 11)]) == "贸易额达到<mark>948亿美元</mark>。"
    assert highlighted("<a>", [(0, 3)]) == "<mark>&lt;a&gt;</mark>"


def test_abstaining_answer_says_so_and_shows_the_closest_passages_as_not_answering():
    answer = _answer("最接近的段落", answer=None)
    html = answer_html(answer)
    assert "没有涉及这个问题" in html and "最接近的段落（并未回答这个问题" in html
    assert "<mark>" not in html and "wd-ref" not in html  # no highlight, no [n] marker
    assert '<details class="wd-others wd-closest">' in html  # folded


def test_escape_keeps_chinese_text():
    assert escape("中国—中亚“精神”") == "中国—中亚“精神”"


def test_passage_shows_title_section_paragraph_source_date_and_score():
    html = answer_html(_answer("贸易额达到948亿美元。", answer="贸易额"))
    for part in ("&lt;b&gt;标题&lt;/b&gt;", "第2段", "人民日报 6月30日", "相关度 0.80", "<mark>"):
        assert part in html
    assert '<sup class="wd-ref">[1]</sup>' in html  # the answer line's citation marker


def _passage(rank, article, text, score, highlights, start=0, url=None):
    citation = {
        "article_id": article,
        "article_title": f"标题{article}",
        "section": None,
        "paragraph": 1,
        "source": "人民日报",
        "date": "6月30日",
        "chunk_id": f"c{rank}",
        "start": start,
        "end": start + len(text),
        "url": url,
    }
    return {"rank": rank, "text": text, "score": score, "highlights": highlights, "citation": citation}


def test_only_passages_holding_the_answer_sentence_support_it():
    answer = {
        "question": "q",
        "answer": "贸易额达到948亿美元。",
        "abstained": False,
        "passages": [
            _passage(1, "a", "前文。贸易额达到948亿美元。后文。", 0.8, [[3, 15]]),
            _passage(2, "b", "另一句高亮的话。", 0.9, [[0, 8]]),  # highlights a sentence of its own
            _passage(3, "c", "没有高亮。", 0.7, []),
        ],
    }
    assert [supports(p, answer["answer"]) for p in answer["passages"]] == [True, False, False]
    chosen, others = split_passages(answer)
    assert [p["rank"] for p in chosen] == [1] and [p["rank"] for p in others] == [2, 3]
    html = answer_html(answer)
    support, rest = html.split('<details class="wd-others">')
    assert support.count('class="wd-ref"') == 2 and "[1]" in support  # marker and its passage
    assert "更多相关段落（2）" in rest and "<mark>" not in rest and "wd-ref" not in rest


def test_passages_of_one_article_are_grouped_and_groups_go_by_relevance():
    passages = [
        _passage(1, "a", "甲。", 0.70, [], start=50),
        _passage(2, "b", "乙。", 0.90, []),
        _passage(3, "a", "丙。", 0.80, [], start=10),
    ]
    groups = group_by_article(passages)
    assert [[p["rank"] for p in g] for g in groups] == [[2], [3, 1]]  # a's passages in reading order
    html = answer_html({"question": "q", "answer": None, "abstained": True, "passages": passages})
    scores = [float(s.split("<")[0]) for s in html.split("相关度 ")[1:]]
    assert scores == sorted(scores, reverse=True) and html.count('class="wd-group"') == 2


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://news.example.com/a?b=1", True),
        ("http://news.example.com/a", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<b>x</b>", False),
        ("//news.example.com/a", False),
        ("https:///nohost", False),
        (None, False),
    ],
)
def test_only_http_urls_link_to_the_article_in_a_new_tab(url, linked):
    answer = {
        "question": "q",
        "answer": None,
        "abstained": True,
        "passages": [_passage(1, "a", "文。", 0.5, [], url=url)],
    }
    html = answer_html(answer)
    assert (safe_url(url) is not None) is linked
    assert ('<a class="wd-link"' in html) is linked
    if linked:
        assert 'target="_blank" rel="noopener noreferrer"' in html and "阅读原文" in html


def test_copy_button_carries_the_citation_as_an_escaped_attribute():
    html = answer_html(_answer("正文"))
    button = html[html.index("<button") : html.index("</button>")]
    assert 'class="wd-copy"' in button and "复制引文" in button
    assert 'value="《&lt;b&gt;标题&lt;/b&gt;》 · &#91;节&#93;(http://x) · 第2段 · 人民日报 6月30日"' in button


def test_long_passages_show_an_excerpt_around_the_answer_and_fold_the_rest():
    before, sentence, after = "前文一句。" * 40, "贸易额达到948亿美元。", "后文一句。" * 40
    answer = _answer(before + sentence + after)
    answer["passages"][0]["highlights"] = [[len(before), len(before) + len(sentence)]]
    answer["answer"] = sentence
    html = answer_html(answer)
    excerpt = html[html.index('<div class="wd-text wd-excerpt">') : html.index('<details class="wd-more">')]
    assert "<mark>贸易额达到948亿美元。</mark>" in excerpt and excerpt.count("。") < 40
    assert excerpt.startswith('<div class="wd-text wd-excerpt">…前文一句。') and excerpt.endswith(
        "后文一句。…</div>"
    )
    assert "<summary>展开全文（" in html and html.count("<mark>") == 3  # answer line, excerpt, whole text


def test_short_passages_show_whole_without_a_fold():
    html = answer_html(_answer("短段落。", answer="短段落"))
    assert "wd-more" not in html and "<mark>短段落</mark>。" in html


def test_excerpt_of_a_passage_without_highlights_is_its_start():
    answer = _answer("开头" * 200)
    answer["passages"][0]["highlights"] = []
    html = answer_html(answer)
    assert '<div class="wd-text wd-excerpt">开头' in html


def _printing(article: str, source: str | None, date: str | None, title: str, url: str | None = None) -> dict:
    return {
        **_passage(1, article, "文。", 0.5, [], url=url)["citation"],
        "source": source,
        "date": date,
        "article_title": title,
    }


def test_a_passage_names_the_other_papers_printing_its_text_escaped_and_linked():
    answer = _answer("贸易额达到948亿美元。", answer="贸易额")
    answer["passages"][0]["also_in"] = [
        _printing(
            "b", "人民日报", "2025-06-30", "<script>alert(1)</script>", "https://news.example.com/b?x=1&y=2"
        ),
        _printing("c", "新华社", None, "同一篇稿件"),
        _printing("d", None, None, "无来源"),
    ]
    answer["passages"][0]["also_in_total"] = 3
    html = answer_html(answer)
    line = html[html.index('<div class="wd-also">') :]
    line = line[: line.index("</div>") + len("</div>")]
    assert line == (
        '<div class="wd-also">亦见于：'
        '<a href="https://news.example.com/b?x=1&amp;y=2" target="_blank" rel="noopener noreferrer">'
        "人民日报 2025-06-30《&lt;script&gt;alert(1)&lt;/script&gt;》"
        '<span class="wd-sr">（在新标签页打开）</span></a>、新华社《同一篇稿件》、《无来源》</div>'
    )
    assert "<script" not in html
    head, text = html.index('class="wd-head"'), html.index('class="wd-text"')
    assert head < html.index('class="wd-also"') < text, "under the passage's citation, above its text"


def test_a_capped_list_says_how_many_papers_printed_it_in_either_language():
    passage = {
        "also_in": [_printing(f"p{i}", "报", "2025-07-01", f"标题{i}") for i in range(10)],
        "also_in_total": 30,
    }
    assert also_in_html(passage).endswith("《标题9》等30篇</div>")
    english = also_in_html(passage, lang="en")
    assert english.startswith('<div class="wd-also">Also printed in: 报 2025-07-01《标题0》, 报')
    assert english.endswith("《标题9》 and 20 more</div>")


def test_nothing_is_said_of_other_papers_when_none_printed_the_text():
    answer = _answer("贸易额达到948亿美元。", answer="贸易额")
    assert "wd-also" not in answer_html(answer), "a passage without the key (an older reply)"
    answer["passages"][0].update(also_in=[], also_in_total=0)
    html = answer_html(answer) + answer_html(answer, lang="en")
    assert "wd-also" not in html and "亦见于" not in html and "Also printed in" not in html


def test_english_labels():
    html = answer_html(_answer("text", answer=None), lang="en")
    assert (
        "do not cover this question" in html
        and "para. 2" in html
        and "relevance 0.80" in html
        and "Copy citation" in html
    )
