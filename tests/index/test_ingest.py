"""Corpus readers: txt, md, jsonl, sidecar metadata, and skipping unreadable files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.errors import CorpusError
from index.ingest import IngestReport, corpus_files, read_corpus


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
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in report.skipped) == ["bad.jsonl:1", "bad.txt"]  # a line


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


def test_a_duplicate_article_id_is_kept_by_the_first_file_read(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "same", "text": "第一篇。"}), encoding="utf-8")
    rows = [
        {"id": "same", "text": "第二篇。"},
        {"id": "same", "text": "第三篇。"},
        {"id": "other", "text": "别的。"},
    ]
    (tmp_path / "b.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert [(a.id, a.text) for a in articles] == [("same", "第一篇。"), ("other", "别的。")]
    assert len(report.skipped) == 2
    for where, reason in report.skipped:
        assert where.endswith("b.jsonl") and "duplicate article id 'same'" in reason and "a.jsonl" in reason


def test_writing_articles_with_a_duplicate_id_is_refused(tmp_path, fake_embedder):
    from index.build import write_articles
    from index.settings import IndexSettings

    [article] = read_corpus([_write(tmp_path / "a.txt", "正文一句。")], root=tmp_path)[0]
    with pytest.raises(CorpusError, match="duplicate article id 'a'"):
        write_articles(tmp_path / "idx", [article, article], IndexSettings(), embedder=fake_embedder)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_symbolic_links_out_of_the_corpus_are_not_followed_and_bad_links_are_reported(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (corpus / "good.txt").write_text("好的文章，正文一句。", encoding="utf-8")
    (corpus / "passwd_link.txt").symlink_to(secret)
    (corpus / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    (corpus / "loop_a.txt").symlink_to(corpus / "loop_b.txt")
    (corpus / "loop_b.txt").symlink_to(corpus / "loop_a.txt")
    (corpus / "sub" / "up").symlink_to(corpus)  # a directory loop
    (corpus / "outside_dir").symlink_to(tmp_path)
    (corpus / "alias.txt").symlink_to(corpus / "good.txt")  # inside the corpus: read (same article, same id)
    report = IngestReport()
    files = corpus_files(corpus, report)
    assert sorted(p.name for p in files) == ["alias.txt", "good.txt"]
    reasons = {Path(where).name: reason for where, reason in report.skipped}
    assert reasons["passwd_link.txt"] == f"symbolic link to {secret}, outside the corpus; not followed"
    assert reasons["dangling.txt"].startswith(f"dangling symbolic link (to {tmp_path / 'gone.txt'})")
    assert "loop" in reasons["loop_a.txt"] and "loop" in reasons["loop_b.txt"]
    assert "loop" in reasons["up"] and "outside the corpus" in reasons["outside_dir"]
    articles, report = read_corpus(files, root=corpus, report=report)
    assert [a.id for a in articles] == ["good"]
    assert "root:x" not in " ".join(a.text for a in articles)


def test_a_bad_jsonl_line_skips_only_that_line(tmp_path):
    lines = [
        json.dumps({"id": "a", "text": "第一篇文章。"}, ensure_ascii=False).encode(),
        b"{not json",
        json.dumps({"id": "b", "text": "第二篇文章。"}, ensure_ascii=False).encode(),
        json.dumps({"id": "c", "title": "没有正文"}).encode(),
        "不是 UTF-8 的一行".encode("gbk"),
        b"",
        json.dumps({"id": "d", "text": "第四篇文章。"}, ensure_ascii=False).encode(),
        json.dumps(["a", "list"]).encode(),
    ]
    (tmp_path / "mixed.jsonl").write_bytes(b"\n".join(lines))
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert [a.id for a in articles] == ["a", "b", "d"]
    skipped = {where.rsplit("/", 1)[-1]: reason for where, reason in report.skipped}
    assert list(skipped) == ["mixed.jsonl:5", "mixed.jsonl:2", "mixed.jsonl:4", "mixed.jsonl:8"]
    assert skipped["mixed.jsonl:2"].startswith("not valid JSON")
    assert skipped["mixed.jsonl:5"].startswith("not UTF-8 text")
    assert "'text' field" in skipped["mixed.jsonl:4"] and "'text' field" in skipped["mixed.jsonl:8"]


ZH = "峰会在西安举行。中国与中亚五国的贸易额达到九百四十八亿美元，比上年增长百分之三点六。"
ZH_HANT = "峰會在西安舉行。中國與中亞五國的貿易額達到九百四十八億美元，比上年增長百分之三點六。"


@pytest.mark.parametrize(
    ("codec", "text", "reported"),
    [
        ("gbk", ZH, "GB18030 (detected)"),
        ("gb18030", ZH + "𠀀", "GB18030 (detected)"),
        ("big5", ZH_HANT, "BIG5 (detected)"),
        ("utf-16", ZH, "UTF-16 (byte-order mark)"),
        ("utf-8-sig", ZH, None),
    ],
)
@pytest.mark.parametrize("suffix", [".txt", ".md", ".jsonl"])
def test_text_encodings_are_detected_and_reported(codec, text, reported, suffix, tmp_path):
    content = json.dumps({"id": "x", "text": text}, ensure_ascii=False) + "\n" if suffix == ".jsonl" else text
    (tmp_path / f"x{suffix}").write_bytes(content.encode(codec))
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert report.skipped == []
    assert [a.text for a in articles] == [text]
    assert report.notes == ([(str(tmp_path / f"x{suffix}"), f"read as {reported}")] if reported else [])


def test_a_short_gbk_line_is_read_as_chinese_not_korean(tmp_path):
    (tmp_path / "short.txt").write_bytes("峰会在西安举行。".encode("gbk"))
    [article], report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert article.text == "峰会在西安举行。" and report.notes[0][1] == "read as GB18030 (detected)"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        b"\x7fELF\x02\x01\x01" + bytes(300),
        bytes(range(256)) * 8,
    ],
)
def test_a_binary_file_is_skipped_with_a_clear_reason(data, tmp_path):
    (tmp_path / "good.md").write_text("# 标题\n\n正文一句。\n", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(data)
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert [a.id for a in articles] == ["good"]
    [(where, reason)] = report.skipped
    assert where.endswith("image.txt") and reason.startswith("not text: ") and "\n" not in reason


def test_unclosed_front_matter_is_body_text_never_the_title(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\ntitle: 前言标题\nsource: 测试报\n\n正文第一段，说了一件事。\n\n第二段。\n", encoding="utf-8"
    )
    (tmp_path / "b.md").write_text("---\ntitle: 前言标题\n\n# 真标题\n\n正文。\n", encoding="utf-8")
    (tmp_path / "c.md").write_text("---\ntitle: 已闭合\n---", encoding="utf-8")  # closed at the very end
    (tmp_path / "c.meta.json").write_text('{"title": "旁注"}', encoding="utf-8")
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    by_id = {a.id: a for a in articles}
    assert (by_id["a"].title, by_id["a"].title_from) == ("正文第一段，说了一件事", "lead")
    assert (
        by_id["a"].text.startswith("title: 前言标题\nsource: 测试报\n正文第一段")
        and by_id["a"].source is None
    )
    assert (by_id["b"].title, by_id["b"].title_from) == ("真标题", "title line")
    assert {Path(w).name for w, _ in report.notes} == {"a.md", "b.md"}
    assert all("never closed" in message for _, message in report.notes)
    assert [Path(w).name for w, _ in report.skipped] == ["c.md"]  # front matter only: no body text


def test_control_characters_in_a_file_name_do_not_reach_the_article_id(tmp_path):
    (tmp_path / "two\nlines\u202e.txt").write_text("正文一句。", encoding="utf-8")
    (tmp_path / "ids.jsonl").write_text(json.dumps({"id": "x\ny", "text": "另一篇。"}), encoding="utf-8")
    articles, report = read_corpus(corpus_files(tmp_path), root=tmp_path)
    assert sorted(a.id for a in articles) == ["two_lines_", "x_y"]
    assert len(report.notes) == 2 and all("replaced by '_'" in message for _, message in report.notes)
