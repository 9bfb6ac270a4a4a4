"""Source lines, bylines, editor lines and photo captions are metadata, never content."""

from __future__ import annotations

import pytest

from index.ingest import corpus_files, read_corpus
from index.ingest.layout import Block
from index.ingest.noncontent import byline_author, content_blocks, non_content_kind

NOT_CONTENT = [
    ("（原载6月30日《人民日报》）", "source"),
    ("(原载2025年6月30日《光明日报》第3版)", "source"),
    ("来源：人民网", "source"),
    ("责任编辑：王小明", "editor"),
    ("（编辑：李华）", "editor"),
    ("本报记者 张三 李四", "byline"),
    ("（记者 王五）", "byline"),
    ("新华社北京6月30日电（记者 赵六）", "byline"),
    ("作者：陈九（中国社会科学院研究员）", "byline"),
    ("图为峰会现场（新华社记者 刘八 摄）", "caption"),
    ("图为阿斯塔纳独立宫。", "caption"),
    ("（资料图片）", "caption"),
]

CONTENT = [
    "2024年，中国与中亚五国的贸易额达到948亿美元，再创历史新高。",
    "中方记者在会上提问。",
    "记者从会上获悉，该项目已开工。",
    "图书馆的藏书超过一百万册，是当地最大的图书馆之一。",
    "原载于古籍的这段记述，如今已有多种解读，学界看法不一，需要更多考古发现来印证。",
    "作者在书中写道：“历史是最好的老师。”这句话后来被广泛引用。",
]


@pytest.mark.parametrize(("line", "kind"), NOT_CONTENT)
def test_non_content_lines_are_recognised(line, kind):
    assert non_content_kind(line) == kind


@pytest.mark.parametrize("line", CONTENT)
def test_content_lines_stay_content(line):
    assert non_content_kind(line) is None


def test_dropped_lines_are_kept_with_their_kind_and_name_the_author():
    blocks = [
        Block("paragraph", "本报记者 张三"),
        Block("paragraph", "正文第一句。"),
        Block("paragraph", "责任编辑：李四"),
    ]
    kept, dropped = content_blocks(blocks)
    assert [b.text for b in kept] == ["正文第一句。"]
    assert [d["kind"] for d in dropped] == ["byline", "editor"]
    assert byline_author(dropped) == "张三"


def test_sample_articles_keep_the_source_line_as_metadata_only(sample_corpus):
    articles, _ = read_corpus(corpus_files(sample_corpus), root=sample_corpus)
    assert len(articles) == 2
    for article in articles:
        assert "原载" not in article.text
        assert article.source == "人民日报" and article.date == "6月30日"
        assert article.metadata["origin"] == "（原载6月30日《人民日报》）"


def test_a_synthetic_corpus_drops_bylines_editors_and_captions(tmp_path):
    (tmp_path / "a.txt").write_text(
        "阿斯塔纳新区建设提速\n\n本报记者 王晓明\n\n新区的第一批住宅楼已经封顶，预计明年交付使用。\n\n"
        "图为新区建设现场（本报记者 王晓明 摄）\n\n当地政府表示，配套学校和医院将同步建设。\n\n"
        "责任编辑：赵敏\n\n（原载5月8日《新城晚报》）\n",
        encoding="utf-8",
    )
    (articles, _) = read_corpus(corpus_files(tmp_path), root=tmp_path)
    (article,) = articles
    assert "记者" not in article.text and "编辑" not in article.text and "原载" not in article.text
    assert "图为" not in article.text
    assert "预计明年交付使用" in article.text and "配套学校" in article.text
    assert article.author == "王晓明"
    assert article.source == "新城晚报"
    assert {d["kind"] for d in article.metadata["non_content"]} == {"byline", "caption", "editor"}
