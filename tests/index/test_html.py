"""HTML ingestion: the article body without the page chrome, with its title and metadata.

The pages in tests/index/data are written for these tests after common Chinese news layouts:
a GB2312-declared portal page without <article> (people_daily.html), a modern page with
<article>, Open Graph tags and <time> (modern.html), and an old table layout with <br>
paragraphs and only a <title> (plain.html).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.chunk import chunk_article
from index.ingest import corpus_files, read_corpus
from index.ingest.html import decode_html, parse_page
from index.settings import ChunkSettings

DATA = Path(__file__).resolve().parent / "data"
CHROME = [
    "首页",
    "登录",
    "广告",
    "点击领取优惠券",
    "分享",
    "热点排行",
    "热门文章",
    "版权所有",
    "相关阅读",
    "上一篇报道",
    "_hmt",
    "dataLayer",
    "编辑注",
    "联系我们",
    "关于我们",
    "Copyright",
    "图表",
    "text-indent",
]


@pytest.fixture
def pages(tmp_path) -> dict[str, object]:
    for page in DATA.glob("*.html"):
        shutil.copy(page, tmp_path)
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert report.skipped == []
    return {a.id: a for a in articles}


def test_portal_page_without_article_tag_gives_the_dense_text_block(pages):
    article = pages["people_daily"]  # GB2312-declared page, decoded as GB18030
    assert article.title == "携手构建更加紧密的中国—中亚命运共同体" and article.title_from == "<h1>"
    assert (
        article.date == "2025-06-30" and article.source == "人民日报" and article.author == "人民日报评论员"
    )
    assert article.text.startswith(
        "6月17日，第二届中国—中亚峰会在哈萨克斯坦阿斯塔纳举行。"
    )  # wrap inside <p> rejoined
    assert "2024年，中国与中亚五国的贸易额达到948亿美元，再创历史新高。" in article.text
    assert [s.heading for s in article.sections] == [None, "推进共同现代化是共同愿景"]
    assert len(article.paragraphs) == 4  # the editor line is metadata, not a paragraph
    assert article.metadata["non_content"] == [{"kind": "editor", "text": "（责编：张三、李四）"}]


def test_modern_page_uses_article_open_graph_and_time(pages):
    article = pages["modern"]
    assert article.title == "中国与中亚贸易额创历史新高" and article.title_from == "og:title"
    assert article.date == "2025-06-30T08:00:00+08:00" and article.author == "王五"
    assert article.url == "https://news.example.com/2025/06/30/trade.html" and article.source == "示例新闻网"
    assert "达到948亿美元，再创历史新高。The Belt and Road Initiative has been central" in article.text
    assert [s.heading for s in article.sections] == [None, "基础设施", "能源合作"]
    assert "天然气管道运行平稳" in article.text  # link text inside a paragraph is kept
    assert article.title not in article.text  # the <h1> title line is not repeated in the body


def test_table_layout_with_br_paragraphs_and_only_a_title_tag(pages):
    article = pages["plain"]
    assert article.title == "港口吞吐量创新高" and article.title_from == "<title>"  # site name trimmed
    assert len(article.paragraphs) == 3
    assert article.text.split("\n")[0] == "德尔塔港口今年上半年货物吞吐量达到1.2亿吨，同比增长百分之八。"


@pytest.mark.parametrize("name", ["people_daily", "modern", "plain"])
def test_no_page_chrome_reaches_the_article_text(pages, name):
    text = pages[name].text
    assert not [word for word in CHROME if word in text]


@pytest.mark.parametrize("name", ["people_daily", "modern", "plain"])
def test_html_articles_chunk_with_exact_offsets(pages, name):
    article = pages[name]
    chunks = chunk_article(article, ChunkSettings(chunk_size=40, chunk_overlap=20))
    assert chunks
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text


def test_sidecar_fills_what_the_page_lacks_but_never_overrides_it(tmp_path):
    shutil.copy(DATA / "plain.html", tmp_path)
    (tmp_path / "plain.meta.toml").write_text(
        'title = "旁注标题"\nsource = "示例日报"\ndate = 2025-06-30\n', encoding="utf-8"
    )
    [article], _ = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert article.title == "港口吞吐量创新高"  # the page's own title wins
    assert article.metadata["other_titles"] == {"sidecar": "旁注标题"}
    assert article.source == "示例日报" and article.date == "2025-06-30"


def test_comments_scripts_hidden_blocks_and_nested_chrome_are_dropped():
    page = parse_page(
        "<html><body><div id='content'><p>正文第一段，内容充实而且足够长，可以被识别为正文。</p>"
        "<!-- <p>注释里的段落</p> --><script>var x = '<p>脚本</p>';</script>"
        "<p style='display: none'>隐藏的段落</p><p hidden>另一个隐藏段落</p>"
        "<div class='breadcrumb'><a href='/'>首页</a> &gt; 新闻</div>"
        "<p>正文第二段，也是足够长的一段文字，用来组成文章。</p></div></body></html>"
    )
    assert [b.text for b in page.blocks] == [
        "正文第一段，内容充实而且足够长，可以被识别为正文。",
        "正文第二段，也是足够长的一段文字，用来组成文章。",
    ]


def test_undecodable_page_is_skipped_with_its_name(tmp_path):
    (tmp_path / "good.html").write_text("<p>一篇能读的网页，内容完整。</p>", encoding="utf-8")
    (tmp_path / "bad.html").write_bytes(b'<meta charset="utf-8"><p>\xff\xfe\xfa\x81\x30</p>')
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert [a.id for a in articles] == ["good"]
    assert [Path(p).name for p, _ in report.skipped] == ["bad.html"]


def test_decode_html_honours_the_declared_charset_and_bom():
    text = "<meta charset='gbk'><p>中文内容</p>"
    assert decode_html(text.encode("gbk")) == text
    assert decode_html("\ufeff<p>中文</p>".encode("utf-8")) == "<p>中文</p>"
    assert decode_html("<p>中文</p>".encode("gb18030")) == "<p>中文</p>"  # undeclared, not UTF-8


def test_page_without_body_text_is_skipped(tmp_path):
    (tmp_path / "empty.html").write_text(
        "<html><head><title>空页面</title></head><body><nav>首页</nav></body></html>", encoding="utf-8"
    )
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert articles == [] and "no body text" in report.skipped[0][1]
