"""Corpus readers: txt, md, jsonl, sidecar metadata, and skipping unreadable files."""

from __future__ import annotations

import json

import pytest

from index.ingest import CorpusError, corpus_files, read_corpus


def test_markdown_front_matter_title_and_sections(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\ntitle: 测试文章\nsource: 测试报\ndate: 2025-06-30\n---\n# 忽略的标题\n\n导语一句话。\n\n## 第一节\n\n第一节的内容。\n",
        encoding="utf-8",
    )
    [article], report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert article.title == "测试文章" and article.source == "测试报" and article.date == "2025-06-30"
    assert [s.heading for s in article.sections] == [None, "第一节"]


def test_jsonl_records_and_sidecar_metadata(tmp_path):
    rows = [{"id": "x1", "title": "甲", "text": "第一篇的正文。", "source": "新华社"}, {"id": "x2", "title": "乙", "text": "第二篇。"}]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    (tmp_path / "c.txt").write_text("一篇没有标题的文章，只有正文。", encoding="utf-8")
    (tmp_path / "c.meta.json").write_text(json.dumps({"title": "旁注标题", "author": "某人"}), encoding="utf-8")
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
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
