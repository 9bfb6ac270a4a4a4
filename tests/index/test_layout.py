"""Cleaning and layout repair on the sample newspaper text and on small constructed cases."""

from __future__ import annotations

import re

from index.ingest import corpus_files, read_corpus
from index.ingest.layout import collapse_cjk_spaces, is_hard_wrapped, join_wrapped, parse_layout

CJK_GAP = re.compile(r"[\u4e00-\u9fff][\s]+[\u4e00-\u9fff]")


def _sample_articles(sample_corpus):
    articles, report = read_corpus(corpus_files(sample_corpus), root=sample_corpus)
    assert report.skipped == []
    return articles


def test_sample_splits_into_two_articles_with_source_and_date(sample_corpus):
    articles = _sample_articles(sample_corpus)
    assert [a.id for a in articles] == ["000_40a999470f34a1c1#1", "000_40a999470f34a1c1#2"]
    for article in articles:
        assert article.source == "人民日报"
        assert article.date == "6月30日"
        assert "原载" not in article.text  # the source line is metadata (issue 11), not text
        assert article.metadata["origin"] == "（原载6月30日《人民日报》）"


def test_sample_sections_are_the_wrapped_headings(sample_corpus):
    first, second = _sample_articles(sample_corpus)
    assert [s.heading for s in first.sections] == [
        None,
        "携手构建更加紧密的中国—中亚命运共同体顺应时代发展潮流",
        "推进共同现代化是携手构建更加紧密的中国—中亚命运共同体的共同愿景",
        "携手构建更加紧密的中国—中亚命运共同体为建设新型国际关系树立典范",
    ]
    assert [s.heading for s in second.sections] == [
        None,
        "“中国—中亚精神”是中国—中亚双边关系长期发展的结晶",
        "“中国—中亚精神”是推动全球治理转型的价值坐标",
        "“中国—中亚精神”承载各国共同发展和繁荣的美好愿景",
    ]


def test_no_break_or_space_left_between_chinese_characters(sample_corpus):
    for article in _sample_articles(sample_corpus):
        for start, end in article.paragraphs:
            paragraph = article.text[start:end]
            assert "\n" not in paragraph
            assert not CJK_GAP.search(paragraph), CJK_GAP.search(paragraph).group(0)


def test_wrapped_sentences_are_rejoined(sample_corpus):
    text = "\n".join(a.text for a in _sample_articles(sample_corpus))
    assert "中国与中亚五国的贸易额达到948亿美元，再创历史新高。" in text
    assert "当今世界，挑战与机遇并存。" in text  # a blank line fell inside this sentence
    assert "吉尔吉斯斯坦“2026年前国家发展纲要”" in text


def test_blank_line_after_a_finished_sentence_ends_the_paragraph():
    text = "第一段的第一行没有\n结束，这里结束了。\n\n第二段从这里开始，并且\n在这里结束。\n下一行"
    blocks = parse_layout(text * 2)
    assert blocks[0].text == "第一段的第一行没有结束，这里结束了。"
    assert blocks[1].text.startswith("第二段从这里开始，并且在这里结束。")


def test_latin_words_keep_the_space_only_when_the_source_had_one():
    assert join_wrapped("the Belt and", "Road", source_had_space=True) == "the Belt and Road"
    assert join_wrapped("inter", "national", source_had_space=False) == "international"
    assert join_wrapped("中国", "中亚", source_had_space=True) == "中国中亚"


def test_ocr_spaces_around_numbers_are_removed_but_latin_spacing_kept():
    assert collapse_cjk_spaces("达到 948 亿美元") == "达到948亿美元"
    assert collapse_cjk_spaces("6月 17日") == "6月17日"
    assert collapse_cjk_spaces("use GPT 4 here") == "use GPT 4 here"


def test_unwrapped_text_keeps_one_paragraph_per_line():
    lines = ["标题在这里", "第一段很长，但它没有被折行，所以一整行就是一个段落。", "第二段也是如此。"]
    assert not is_hard_wrapped(lines)
    blocks = parse_layout("\n".join(lines))
    assert [b.kind for b in blocks] == ["heading", "paragraph", "paragraph"]


from hypothesis import given, settings
from hypothesis import strategies as st

TEXT_PIECES = st.sampled_from(
    [
        "中国",
        "中亚",
        "峰会",
        "。",
        "，",
        "、",
        "“",
        "”",
        "：",
        "2024",
        "年",
        " ",
        "\n",
        "\n\n",
        "Belt",
        "Road",
        "！",
        "？",
        "948",
        "亿",
        "（",
        "）",
        "\u3000",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT_PIECES, max_size=150))
def test_layout_repair_never_loses_or_reorders_a_character(pieces):
    text = "".join(pieces)
    blocks = parse_layout(text)
    kept = "".join("".join(b.text.split()) for b in blocks)
    assert kept == "".join(text.split())
