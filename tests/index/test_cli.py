"""`python -m index`: build, add, remove, info, and one clear line for every bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index.__main__ import main
from index.store import CURRENT, load_index, read_manifest

SAMPLE_ID = "000_40a999470f34a1c1"
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))  # no text encoding fits


@pytest.fixture
def built(tmp_path, sample_corpus, fake_model, capsys) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_corpus, corpus)
    root = tmp_path / "idx"
    assert main(["build", "--corpus", str(corpus), "--index", str(root), "--quiet"]) == 0
    capsys.readouterr()
    return root


def _error(capsys) -> str:
    """The one error line on stderr (after any files skipped on the way, one line each)."""
    *before, err = capsys.readouterr().err.strip().split("\n")
    assert err.startswith("error: "), err
    assert all(line.startswith(("skipped ", "note: ")) for line in before), before
    return err


def test_build_prints_a_summary_with_articles_chunks_seconds_and_rate(
    tmp_path, sample_corpus, fake_model, capsys
):
    assert main(["build", "--corpus", str(sample_corpus), "--index", str(tmp_path / "idx")]) == 0
    out, err = capsys.readouterr()
    assert "embedding" in err and "chunk" in err  # the progress bar
    assert "2 articles" in out and " chunks (" in out and " s, " in out and "chunks/s" in out


def test_build_passes_the_embedding_backend_and_batch_size(
    tmp_path, sample_corpus, monkeypatch, fake_embedder, capsys
):
    seen = []
    monkeypatch.setattr(
        "index.build.make_embedder", lambda settings, progress=True: seen.append(settings) or fake_embedder
    )
    args = ["build", "--corpus", str(sample_corpus), "--index", str(tmp_path / "idx"), "--quiet"]
    assert main([*args, "--backend", "onnx-int8", "--batch-size", "4"]) == 0
    assert (seen[0].backend, seen[0].batch_size) == ("onnx-int8", 4)
    assert read_manifest(tmp_path / "idx")["settings"]["embed"]["backend"] == "onnx-int8"
    capsys.readouterr()
    with pytest.raises(SystemExit, match="2"):  # argparse refuses it, naming the valid choices
        main([*args, "--backend", "int4"])
    assert "invalid choice: 'int4'" in capsys.readouterr().err


def test_add_and_remove_through_the_command_line(built, tmp_path, capsys):
    new = tmp_path / "new.md"
    new.write_text("# 新文章\n\n一篇新的文章，讲了一件新的事。\n", encoding="utf-8")
    assert main(["add", "--index", str(built), str(new), "--quiet"]) == 0
    assert "1 added, 0 replaced, 0 removed" in capsys.readouterr().out
    assert "new" in load_index(built).articles
    assert main(["remove", "--index", str(built), "new", f"{SAMPLE_ID}#2"]) == 0
    assert "0 added, 0 replaced, 2 removed" in capsys.readouterr().out
    assert set(load_index(built).articles) == {f"{SAMPLE_ID}#1"}


def test_info_describes_the_manifest_in_words(built, capsys):
    assert main(["info", "--index", str(built), "--articles"]) == 0
    out = capsys.readouterr().out
    for words in (
        "2 articles in",
        "Embedding model fake/bigram-hash",
        "64 dimensions",
        "exact inner-product search",
        "1 sentence(s) of overlap",
        "Cleaning steps: strip_bom",
        "sha256",
        "vectors.faiss",
        "records.sqlite",
        "by a build",
        "faiss-cpu",
        f"{SAMPLE_ID}#1",
    ):
        assert words in out, words
    assert main(["info", "--index", str(built), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["articles"] == 2


def test_info_names_hnsw_parameters(tmp_path, sample_corpus, fake_model, capsys):
    root = tmp_path / "idx"
    assert (
        main(
            ["build", "--corpus", str(sample_corpus), "--index", str(root), "--index-type", "hnsw", "--quiet"]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["info", "--index", str(root)]) == 0
    assert "approximate HNSW graph (M=32, efConstruction=200, efSearch=128)" in capsys.readouterr().out


def test_missing_corpus_directory(tmp_path, capsys):
    assert main(["build", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")]) == 2
    assert "does not exist" in _error(capsys)
    assert not (tmp_path / "idx").exists()


def test_empty_corpus(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.pdf").write_bytes(b"%PDF")
    assert main(["build", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "idx")]) == 2
    assert "no .txt, .md, .html or .jsonl file in" in _error(capsys)


def test_corpus_of_unreadable_files_only(tmp_path, fake_model, capsys):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "bad.txt").write_bytes(BINARY)
    assert main(["build", "--corpus", str(tmp_path / "c"), "--index", str(tmp_path / "idx")]) == 2
    err = _error(capsys)
    assert "no article could be read" in err and "bad.txt" in err


def test_unreadable_file_is_skipped_by_name_and_the_build_goes_on(
    built, tmp_path, sample_corpus, fake_model, capsys
):
    corpus = tmp_path / "corpus"
    (corpus / "bad.txt").write_bytes(BINARY)
    assert main(["build", "--corpus", str(corpus), "--index", str(built), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert f"skipped {corpus / 'bad.txt'}: not text" in err and "2 articles" in out


def test_a_duplicate_id_keeps_the_first_file_and_names_both(built, tmp_path, capsys):
    corpus = tmp_path / "dup"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(json.dumps({"id": "x", "text": "第一篇，来自甲文件。"}), encoding="utf-8")
    (corpus / "b.jsonl").write_text(
        "\n".join(json.dumps(r) for r in [{"id": "x", "text": "第二篇。"}, {"id": "y", "text": "另一篇。"}]),
        encoding="utf-8",
    )
    assert main(["build", "--corpus", str(corpus), "--index", str(built), "--quiet"]) == 0
    out, err = capsys.readouterr()
    [line] = [line for line in err.splitlines() if "duplicate" in line]
    assert line.startswith(f"skipped {corpus / 'b.jsonl'}: duplicate article id 'x'") and "a.jsonl" in line
    assert "1 skipped" in out
    articles = load_index(built).articles
    assert set(articles) == {"x", "y"} and "甲" in articles["x"].text
    # the same rule across the files of one `add`
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "z", "text": "丙文件的文章。"}), encoding="utf-8")
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "z", "text": "丁文件的文章。"}), encoding="utf-8")
    assert main(["add", "--index", str(built), str(tmp_path / "c.jsonl"), str(tmp_path / "d.jsonl")]) == 0
    assert "duplicate article id 'z'" in capsys.readouterr().err
    assert "丙" in load_index(built).articles["z"].text


def test_remove_of_an_unknown_id(built, capsys):
    before = (built / CURRENT).read_text()
    assert main(["remove", "--index", str(built), "no-such-article"]) == 2
    assert "no article 'no-such-article' in the index" in _error(capsys)
    assert (built / CURRENT).read_text() == before


def test_add_to_a_missing_index(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("正文。", encoding="utf-8")
    assert main(["add", "--index", str(tmp_path / "none"), str(tmp_path / "a.txt")]) == 3  # the index
    assert "python -m index build" in _error(capsys)


def test_bad_chunk_setting_names_the_value(tmp_path, sample_corpus, capsys):
    assert (
        main(
            [
                "build",
                "--corpus",
                str(sample_corpus),
                "--index",
                str(tmp_path / "i"),
                "--chunk-overlap",
                "999",
            ]
        )
        == 2
    )
    assert "chunk_overlap=999" in _error(capsys)


def test_info_verifies_checksums_and_exits_3_on_a_damaged_index(built, capsys):
    from index.store import live_generation

    records = live_generation(built) / "records.sqlite"
    data = records.read_bytes()
    at = data.index("峰会".encode())
    records.write_bytes(data[:at] + "会峰".encode() + data[at + len("峰会".encode()) :])
    for args in ([], ["--json"], ["--articles"]):
        assert main(["info", "--index", str(built), *args]) == 3
        assert "records.sqlite" in _error(capsys) and capsys.readouterr().out == ""


@pytest.mark.parametrize("command", ["info", "ask"])
def test_a_manifest_of_the_wrong_shape_is_one_named_line_and_status_3(command, built, capsys):
    from index.store import live_generation
    from qa.__main__ import main as qa_main

    manifest = live_generation(built) / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**data, "settings": "fast", "counts": None}), encoding="utf-8")
    run = main if command == "info" else qa_main
    assert run([command, "--index", str(built), *(["问题"] if command == "ask" else [])]) == 3
    assert "manifest.json is damaged" in _error(capsys)


def test_exit_statuses_name_the_kind_of_failure(built, tmp_path, capsys):
    from index.store import writer_lock

    corpus = tmp_path / "corpus"
    assert main(["build", "--corpus", str(tmp_path / "none"), "--index", str(built)]) == 2  # bad input
    assert "does not exist" in _error(capsys)
    assert main(["remove", "--index", str(built), "no-such-article"]) == 2
    assert "no article" in _error(capsys)
    assert main(["info", "--index", str(tmp_path / "none")]) == 3  # no index
    assert "no index" in _error(capsys)
    with writer_lock(built):  # another writer: nothing written, try again later
        assert main(["build", "--corpus", str(corpus), "--index", str(built), "--quiet"]) == 4
        assert "being written by another process" in _error(capsys)
        assert main(["remove", "--index", str(built), f"{SAMPLE_ID}#1"]) == 4
        assert "being written by another process" in _error(capsys)
    assert main(["info", "--index", str(built)]) == 0


def test_skipped_files_are_printed_as_they_happen(built, tmp_path, monkeypatch, fake_embedder, capsys):
    corpus = tmp_path / "corpus"
    (corpus / "bad.txt").write_bytes(BINARY)
    (corpus / "lines.jsonl").write_text('{"id": "j", "text": "正文。"}\n{broken\n', encoding="utf-8")
    (corpus / "link.txt").symlink_to("/etc/passwd")
    printed_before_the_model = []

    def embedder(settings, progress=True):
        printed_before_the_model.append(capsys.readouterr().err)
        return fake_embedder

    monkeypatch.setattr("index.build.make_embedder", embedder)
    assert main(["build", "--corpus", str(corpus), "--index", str(built), "--quiet"]) == 0
    [err] = printed_before_the_model
    assert f"skipped {corpus / 'link.txt'}: symbolic link to /etc/passwd, outside the corpus" in err
    assert f"skipped {corpus / 'bad.txt'}: not text" in err
    assert f"skipped {corpus / 'lines.jsonl'}:2: not valid JSON" in err
    assert "3 skipped" in capsys.readouterr().out
