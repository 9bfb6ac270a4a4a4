"""The records file: chunks and articles read on demand from SQLite, and version-1 indexes."""

from __future__ import annotations

import json

import pytest

from index.build import build_index
from index.documents import Article, Chunk
from index.errors import IndexCorruptError
from index.files import sha256_file, write_json, write_jsonl
from index.settings import IndexSettings
from index.store import live_generation, load_index
from index.store.records import (
    RECORDS,
    ChunkRecords,
    MemoryChunks,
    Records,
    StoredChunk,
    chunk_row,
    open_records,
    write_records,
)


def _article(n: int) -> Article:
    text = f"第{n}篇文章。它讲的是第{n}件事。"
    return Article(f"a{n}", f"标题{n}", text, ((0, len(text)),), (), source="测试")


def _chunks(articles: list[Article]) -> list[StoredChunk]:
    stored = []
    for article in articles:
        for start, end in ((0, 5), (5, len(article.text))):
            chunk = Chunk(
                f"{article.id}-{start}", article.id, article.text[start:end], start, end, None, 1, 1
            )
            stored.append(StoredChunk(chunk, 1000 + 3 * len(stored), f"h{len(stored)}"))
    return stored


def test_records_round_trip_reads_rows_on_demand(tmp_path):
    articles = [_article(n) for n in range(30)]
    stored = _chunks(articles)
    path = tmp_path / RECORDS
    assert write_records(path, iter(articles), iter(stored)) == (30, 60)
    chunks, by_id = open_records(path)
    assert len(chunks) == 60 and len(by_id) == 30
    assert chunks[0] == stored[0] and chunks[-1] == stored[-1] and chunks[10:13] == stored[10:13]
    assert list(chunks) == stored  # iteration streams every row, in position order
    assert chunks.positions([stored[7].vid, stored[2].vid, stored[7].vid]) == [7, 2, 7]
    with pytest.raises(KeyError):
        chunks.positions([5])
    with pytest.raises(IndexError):
        chunks[60]
    assert by_id["a3"] == articles[3] and "a3" in by_id and "zz" not in by_id
    with pytest.raises(KeyError):
        by_id["zz"]
    assert list(by_id) == [a.id for a in articles] and list(by_id.values()) == articles
    assert dict(by_id.items())["a29"] == articles[29]
    assert chunks.article_counts() == {a.id: 2 for a in articles}
    assert chunks.texts([stored[4].chunk.id, "nope"]) == {stored[4].chunk.id: stored[4].chunk.text}


def test_the_cache_stays_bounded(tmp_path):
    articles = [_article(n) for n in range(50)]
    path = tmp_path / RECORDS
    write_records(path, articles, _chunks(articles))
    chunks = ChunkRecords(Records(path), 100, cache_size=8)
    for position in range(100):
        assert chunks[position].chunk.article_id == f"a{position // 2}"
    assert len(chunks._cache) == 8


def test_many_chunks_are_read_in_one_query_and_cached(tmp_path):
    articles = [_article(n) for n in range(30)]
    stored = _chunks(articles)
    path = tmp_path / RECORDS
    write_records(path, articles, stored)
    chunks = ChunkRecords(Records(path), 60, cache_size=16)
    chunks[3]  # one cached before
    queries = []
    query = chunks.records.query
    chunks.records.query = lambda sql, args=(): queries.append(sql) or query(sql, args)  # type: ignore[method-assign]
    wanted = [40, 3, 7, 40, 12]
    assert chunks.at(wanted) == [stored[p] for p in wanted]
    assert len(queries) == 1 and "IN" in queries[0]
    assert chunks.at([7, 3]) == [stored[7], stored[3]] and len(queries) == 1, "now all cached"
    assert len(chunks._cache) == 4
    with pytest.raises(IndexError, match="60"):
        chunks.at([1, 60])
    assert MemoryChunks(stored).at(wanted) == [stored[p] for p in wanted]


def test_duplicate_vids_are_refused(tmp_path):
    articles = [_article(0)]
    stored = _chunks(articles)
    with pytest.raises(ValueError, match="duplicate"):
        write_records(tmp_path / RECORDS, articles, [stored[0], stored[0]])


def test_a_version_1_generation_is_still_read(sample_corpus, tmp_path, fake_embedder):
    """A generation written before records.sqlite (JSONL records) loads the same chunks."""
    root = tmp_path / "idx"
    build_index(sample_corpus, root, IndexSettings(), embedder=fake_embedder, progress=False)
    now = load_index(root)
    chunks, articles = list(now.chunks), list(now.articles.values())
    generation = live_generation(root)
    write_jsonl(generation / "chunks.jsonl", (chunk_row(c) for c in chunks))
    write_jsonl(generation / "articles.jsonl", (a.to_dict() for a in articles))
    (generation / RECORDS).unlink()
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    files = {k: v for k, v in manifest["files"].items() if k != RECORDS}
    for name in ("chunks.jsonl", "articles.jsonl"):
        files[name] = {"bytes": (generation / name).stat().st_size, "sha256": sha256_file(generation / name)}
    write_json(generation / "manifest.json", {**manifest, "format_version": 1, "files": files})
    old = load_index(root)
    assert isinstance(old.chunks, MemoryChunks) and list(old.chunks) == chunks
    assert old.articles == {a.id: a for a in articles}
    assert old.chunks.positions([chunks[1].vid]) == [1]
    write_json(generation / "manifest.json", {**manifest, "format_version": 3})
    with pytest.raises(IndexCorruptError, match="reads wenda-index versions 1, 2: rebuild the index"):
        load_index(root)


def test_a_records_file_that_is_not_sqlite_is_a_named_error(sample_corpus, tmp_path, fake_embedder):
    root = tmp_path / "idx"
    build_index(sample_corpus, root, IndexSettings(), embedder=fake_embedder, progress=False)
    (live_generation(root) / RECORDS).write_bytes(b"not a database" * 100)
    with pytest.raises(IndexCorruptError, match="records.sqlite.*rebuild"):
        load_index(root, verify=False)


def test_the_faiss_file_is_memory_mapped_and_an_update_changes_a_copy(sample_corpus, tmp_path, fake_embedder):
    from index.update import update_index

    root = tmp_path / "idx"
    build_index(sample_corpus, root, IndexSettings(), embedder=fake_embedder, progress=False)
    loaded = load_index(root)
    assert loaded.vectors.mapped  # type: ignore[attr-defined]
    before = loaded.vectors.search(loaded.vectors.reconstruct([loaded.chunks[0].vid])[0], 3)
    extra = tmp_path / "extra.txt"
    extra.write_text("新文章\n\n这是一篇新的文章，讲的是别的事情。", encoding="utf-8")
    update_index(root, add=[extra], embedder=fake_embedder, progress=False)
    after = load_index(root)
    assert len(after.articles) == len(loaded.articles) + 1 and after.vectors.ntotal > loaded.vectors.ntotal
    again = loaded.vectors.search(loaded.vectors.reconstruct([loaded.chunks[0].vid])[0], 3)
    assert [a.tolist() for a in again] == [b.tolist() for b in before]  # the old mapping still serves
