"""Corpus readers: txt, md, jsonl, sidecar metadata, and skipping unreadable files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.errors import CorpusError
from index.ingest import corpus_files, read_corpus


def test_markdown_front_matter_title_and_sections(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\ntitle: 前言标题\nsource: 测试报\ndate: 2025-06-30\n---\n# 标题行\n\n导语一句话。\n\n## 第一节\n\n第一节的内容。\n",
        encoding="utf-8",
    )
    [article], _ = read_corpus(corpus_files(tmp_path), root=tmp_path)
    # the title line is preferred to the front matter (issue 3's order); the other is kept
    assert article.title == "标题行" and article.title_from == "title line"
    assert article.metadata["other_titles"] == {"front matter": "前言标题"}
    assert article.source == "测试报" and article.date == "2025-06-30"
    assert [s.heading for s in article.sections] == [None, "第一节"]


def test_jsonl_records_and_sidecar_metadata(tmp_path):
    rows = [
        {"id": "x1", "title": "甲", "text": "第一篇的正文。", "source": "新华社"},
        {"id": "x2", "title": "乙", "text": "第二篇。"},
    ]
    (tmp_path / "b.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    (tmp_path / "c.txt").write_text("一篇没有标题的文章，只有正文。", encoding="utf-8")
    (tmp_path / "c.meta.json").write_text(
        json.dumps({"title": "旁注标题", "author": "某人"}), encoding="utf-8"
    )
    articles, _ = read_corpus(corpus_files(tmp_path), root=tmp_path)
    by_id = {a.id: a for a in articles}
    assert by_id["x1"].title == "甲" and by_id["x1"].source == "新华社"
    assert by_id["c"].title == "旁注标题" and by_id["c"].author == "某人"


def test_unreadable_file_is_reported_and_skipped(tmp_path):
    (tmp_path / "good.txt").write_text("好的文章。", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa not utf-8 \xc3")
    (tmp_path / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert [a.id for a in articles] == ["good"]
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in report.skipped) == ["bad.jsonl", "bad.txt"]


def test_missing_corpus_directory_is_a_named_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        corpus_files(tmp_path / "nope")


def test_toml_sidecar_gives_metadata_with_dates_as_text(tmp_path):
    (tmp_path / "c.txt").write_text("一篇没有标题的文章，只有正文。", encoding="utf-8")
    (tmp_path / "c.meta.toml").write_text(
        'title = "旁注标题"\nauthor = "某人"\ndate = 2025-06-30\nurl = "https://example.com/c"\n[extra]\nedition = 3\n',
        encoding="utf-8",
    )
    [article], report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert report.skipped == []
    assert (article.title, article.title_from) == ("旁注标题", "sidecar")
    assert (
        article.author == "某人" and article.date == "2025-06-30" and article.url == "https://example.com/c"
    )
    assert article.metadata["extra"] == {"edition": 3}
    json.dumps(article.to_dict(), ensure_ascii=False)  # stays JSON


def test_toml_sidecar_per_article_values_over_shared_ones(tmp_path, sample_corpus):
    name = "000_40a999470f34a1c1"
    (tmp_path / f"{name}.txt").write_text(
        (sample_corpus / f"{name}.txt").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / f"{name}.meta.toml").write_text(
        'author = "本报评论员"\nurl = "https://example.com/shared"\n\n'
        '[[articles]]\nurl = "https://example.com/1"\n\n[[articles]]\nauthor = "钟声"\n',
        encoding="utf-8",
    )
    first, second = read_corpus(corpus_files(tmp_path), root=tmp_path)[0]
    assert (first.author, first.url) == ("本报评论员", "https://example.com/1")
    assert (second.author, second.url) == ("钟声", "https://example.com/shared")
    assert first.source == second.source == "人民日报"  # the （原载…） line still gives the source


def test_title_preference_title_line_then_front_matter_then_jsonl_then_sidecar(tmp_path):
    (tmp_path / "t.txt").write_text("标题行在这里\n正文第一段，说了一件事。\n", encoding="utf-8")
    (tmp_path / "t.meta.json").write_text(json.dumps({"title": "旁注标题"}), encoding="utf-8")
    (tmp_path / "m.md").write_text("---\ntitle: 前言标题\n---\n正文，没有井号标题。\n", encoding="utf-8")
    (tmp_path / "m.meta.toml").write_text('title = "旁注标题"\n', encoding="utf-8")
    rows = [
        {"id": "j1", "title": "字段标题", "text": "正文一句。"},
        {"id": "j2", "text": "另一篇正文，没有标题字段。"},
    ]
    (tmp_path / "j.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    (tmp_path / "j.meta.json").write_text(
        json.dumps([{"title": "旁注一"}, {"title": "旁注二"}]), encoding="utf-8"
    )
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert report.skipped == []
    got = {a.id: (a.title, a.title_from) for a in articles}
    assert got == {
        "t": ("标题行在这里", "title line"),
        "m": ("前言标题", "front matter"),
        "j1": ("字段标题", "jsonl"),
        "j2": ("旁注二", "sidecar"),
    }


def test_two_sidecars_or_a_bad_one_skip_the_file_with_a_reason(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.txt").write_text("正文一句。", encoding="utf-8")
    (tmp_path / "a.meta.json").write_text("{}", encoding="utf-8")
    (tmp_path / "a.meta.toml").write_text("", encoding="utf-8")
    (tmp_path / "b.meta.toml").write_text("title = \n", encoding="utf-8")
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert [a.id for a in articles] == ["c"]
    reasons = {Path(p).name: r for p, r in report.skipped}
    assert "keep one" in reasons["a.txt"] and "not valid TOML" in reasons["b.txt"]


def test_duplicate_article_ids_are_refused(tmp_path):
    rows = [{"id": "same", "text": "第一篇。"}, {"id": "same", "text": "第二篇。"}]
    (tmp_path / "d.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    with pytest.raises(CorpusError, match="duplicate article id 'same'"):
        read_corpus(corpus_files(tmp_path), root=tmp_path)
