"""Streaming builds: the spooled keyword files, the durable embedding cache, resuming a killed
build, the compressed FAISS types, and memory that does not grow with the corpus."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import index.writer
from index.__main__ import main
from index.build import build_index
from index.documents import content_hash
from index.settings import IndexSettings, StoreSettings
from index.store import keyword_writer, load_index
from index.store.keyword import (
    ARRAY_FILES,
    KEYWORD_DIR,
    TOKENS_DIR,
    ChunkTokens,
    KeywordIndex,
    block_firsts,
    list_maxima,
    write_keyword_index,
)
from index.store.spool import CACHE_DIR, EmbedCache, VectorSpool
from index.update import update_index


def _token_lists(count: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"词{i}" for i in range(400)]
    docs = [[words[j % 400] for j in rng.zipf(1.3, size=rng.integers(0, 40))] for _ in range(count)]
    docs[3] = docs[-1] = []  # chunks without tokens are indexed as the token ""
    return docs


def test_token_spool_writes_the_files_write_keyword_index_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(keyword_writer, "BLOCK_TOKENS", 500)  # many blocks and passes on a small corpus
    monkeypatch.setattr(keyword_writer, "BLOCK_POSTINGS", 1000)
    for module in (keyword_writer, index.store.keyword):  # lookup blocks across the term ranges
        monkeypatch.setattr(module, "BLOCK", 7)
    docs = _token_lists(3000)
    spool = keyword_writer.TokenSpool(tmp_path / "scratch")
    for tokens in docs:
        spool.add(tokens)
    spool.finish(tmp_path / "streamed")
    write_keyword_index(tmp_path / "reference", docs)
    assert not (tmp_path / "scratch").exists()

    import bm25s

    streamed = KeywordIndex(bm25s.BM25.load(str(tmp_path / "streamed"), mmap=True, allow_pickle=False))
    reference = KeywordIndex.load(tmp_path / "reference")
    assert streamed.num_docs == reference.num_docs == 3000
    params = "params.index.json"
    assert json.loads((tmp_path / "streamed" / params).read_text()) == json.loads(
        (tmp_path / "reference" / params).read_text()
    )
    rng = np.random.default_rng(1)
    for _ in range(100):
        query = [f"词{i}" for i in rng.integers(0, 400, size=3)]
        ours = streamed.bm25.get_scores(streamed.bm25.get_tokens_ids(query))
        theirs = reference.bm25.get_scores(reference.bm25.get_tokens_ids(query))
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    stored = ChunkTokens.load(tmp_path / "streamed" / TOKENS_DIR)
    assert stored is not None and [stored.row(i) for i in range(len(docs))] == docs
    # each term's largest weight, MaxScore's bound, written range by range: the same as
    # computed from the whole arrays, and as bm25s's own index gives term for term
    kept = KeywordIndex.load(tmp_path / "streamed").maxima
    assert kept is not None and reference.maxima is not None
    np.testing.assert_array_equal(
        kept, list_maxima(streamed.bm25.scores["data"], streamed.bm25.scores["indptr"])
    )
    ours_ids, theirs_ids = streamed.bm25.vocab_dict, reference.bm25.vocab_dict
    assert set(ours_ids) == set(theirs_ids)
    np.testing.assert_allclose(
        [kept[ours_ids[t]] for t in ours_ids], [reference.maxima[theirs_ids[t]] for t in ours_ids], rtol=1e-6
    )
    # the chunk of every BLOCK-th posting, also written range by range
    firsts = KeywordIndex.load(tmp_path / "streamed").firsts
    assert firsts is not None and len(firsts) == -(-len(streamed.bm25.scores["indices"]) // 7)
    np.testing.assert_array_equal(firsts, block_firsts(streamed.bm25.scores["indices"]))


def test_the_embed_cache_keeps_only_whole_batches_after_a_crash(tmp_path):
    cache = EmbedCache(tmp_path, "fake/fp", 4)
    assert not (tmp_path / CACHE_DIR).exists()  # made by the first append only
    first, second = np.arange(8, dtype=np.float32).reshape(2, 4), np.ones((1, 4), dtype=np.float32)
    cache.append(["a", "b"], first)
    cache.append(["c"], second)
    with open(cache.vectors_path, "ab") as cut:  # a batch half written when the process died
        cut.write(b"\0" * 6)
    with open(cache.hashes_path, "a") as cut:
        cut.write("d\ne")
    again = EmbedCache(tmp_path, "fake/fp", 4)
    assert len(again) == 3 and "d" not in again and "e" not in again
    np.testing.assert_array_equal(again.read(["c", "a"]), np.stack([second[0], first[0]]))
    again.append(["f"], second)
    assert len(EmbedCache(tmp_path, "fake/fp", 4)) == 4
    again.clear()
    assert not (tmp_path / CACHE_DIR).exists()


def test_a_vector_spool_reads_back_by_slices(tmp_path):
    spool = VectorSpool(tmp_path, 3)
    rows = np.arange(30, dtype=np.float32).reshape(10, 3)
    spool.append(rows[:4])
    spool.append(rows[4:])
    assert spool.shape == (10, 3) and len(spool) == 10
    np.testing.assert_array_equal(spool[2:7], rows[2:7])
    np.testing.assert_array_equal(np.asarray(spool), rows)
    spool.close()
    assert not spool.path.exists()


def _corpus(folder: Path, articles: int) -> Path:
    """A jsonl corpus of short articles, one or two chunks each, every text distinct."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"a{i:05d}",
            "title": f"第{i}号新闻",
            "text": f"第{i}号新闻报道，本市第{i}届运动会于{i % 28 + 1}日开幕，共有{i * 7 % 900 + 100}名运动员参加比赛。",
        }
        for i in range(articles)
    ]
    path = folder / "news.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return folder


class _Logged:
    """The fake embedder, slowed down, writing the hash of every text it embedded to a log."""

    def __init__(self, inner, log: Path, delay: float) -> None:
        self.inner, self.log, self.delay = inner, log, delay
        self.model_id, self.fingerprint, self.dimension = inner.model_id, inner.fingerprint, inner.dimension
        self.prompts = inner.prompts

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=False):
        time.sleep(self.delay)
        vectors = self.inner.embed_passages(texts)
        with open(self.log, "a", encoding="utf-8") as out:
            out.write("".join(content_hash(t) + "\n" for t in texts))
        return vectors


def _build_child(corpus: Path, root: Path, log: Path, delay: float) -> None:
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the process may be killed
    index.writer.EMBED_BATCH = 8
    os._exit(main(["build", "--corpus", str(corpus), "--index", str(root), "--quiet"]))


def _logged(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").split() if log.exists() else []


def test_a_build_killed_while_embedding_resumes_without_embedding_anything_twice(
    tmp_path, fake_model, monkeypatch
):
    corpus, root, log = _corpus(tmp_path / "corpus", 160), tmp_path / "idx", tmp_path / "embedded.log"
    monkeypatch.setattr(
        "index.build.make_embedder", lambda settings, progress=True: _Logged(fake_model, log, 0.15)
    )
    fork = multiprocessing.get_context("fork")
    child = fork.Process(target=_build_child, args=(corpus, root, log, 0.15))
    child.start()
    hashes = EmbedCache(root, fake_model.fingerprint, fake_model.dimension).hashes_path
    deadline = time.monotonic() + 60
    while len(_logged(hashes)) < 40 and time.monotonic() < deadline and child.is_alive():
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)  # kill -9 in the middle of embedding
    child.join()
    assert child.exitcode == -signal.SIGKILL and not (root / "CURRENT").exists()
    first = _logged(log)
    cached = EmbedCache(root, fake_model.fingerprint, fake_model.dimension)
    assert 40 <= len(cached) <= len(first) and set(cached.rows) <= set(first)  # whole batches, durable

    log.unlink()
    rerun = fork.Process(target=_build_child, args=(corpus, root, log, 0.0))
    rerun.start()
    rerun.join(120)
    assert rerun.exitcode == 0
    second = _logged(log)
    assert not set(second) & set(cached.rows)  # nothing a finished batch held is embedded again
    resumed = load_index(root)
    assert len(set(first) | set(second)) >= len(resumed.chunks) and len(second) < len(resumed.chunks)
    assert json.loads((resumed.generation / "manifest.json").read_text())["change"]["embedded"] == len(second)
    assert not (root / CACHE_DIR).exists()  # deleted once its vectors were live

    whole = tmp_path / "whole"
    build_index(corpus, whole, embedder=fake_model, progress=False)
    straight = load_index(whole)
    assert [c.chunk.id for c in resumed.chunks] == [c.chunk.id for c in straight.chunks]
    assert [c.vid for c in resumed.chunks] == [c.vid for c in straight.chunks]
    vids = [c.vid for c in straight.chunks]
    np.testing.assert_array_equal(resumed.vectors.reconstruct(vids), straight.vectors.reconstruct(vids))
    for name in ARRAY_FILES:
        np.testing.assert_array_equal(
            np.load(resumed.path(KEYWORD_DIR) / name), np.load(straight.path(KEYWORD_DIR) / name)
        )


@pytest.mark.parametrize("kind", ["ivfsq8", "hnswsq8"])
def test_compressed_index_types_build_search_and_update(tmp_path, fake_embedder, kind):
    corpus = _corpus(tmp_path / "corpus", 120)
    settings = IndexSettings(store=StoreSettings(index_type=kind))
    root = tmp_path / "idx"
    build_index(corpus, root, settings, embedder=fake_embedder, progress=False)
    loaded = load_index(root)
    assert loaded.manifest["faiss"]["type"] == kind
    hits = 0
    for stored in loaded.chunks[::10]:
        ids, _ = loaded.vectors.search(fake_embedder.embed_queries([stored.chunk.text])[0], 3)
        hits += stored.vid in ids.tolist()
    assert hits >= 0.9 * len(loaded.chunks[::10])  # 8-bit codes still find the chunk itself
    gone = sorted(loaded.articles)[3]
    report = update_index(root, remove=[gone], embedder=fake_embedder, progress=False)
    after = load_index(root)
    assert len(after.chunks) == len(loaded.chunks) - 1 and after.vectors.ntotal == len(after.chunks)
    expected = "updated in place" if kind == "ivfsq8" else "rebuilt from stored vectors"
    assert expected in report.faiss


def test_a_build_frees_each_scratch_file_once_it_is_consumed(tmp_path, fake_embedder, monkeypatch):
    """Disk at ten million chunks: the vector spool (15 GB) is gone before the records and
    keyword files are written, and the spooled token ids become tokens/ids.npy by a rename,
    not a copy; no postings file outlives the keyword write."""
    from index.store import generations

    corpus = _corpus(tmp_path / "corpus", 40)
    root = tmp_path / "idx"
    seen: dict[str, list[str]] = {}
    monkeypatch.setattr(
        generations,
        "stage_hook",
        lambda stage: seen.setdefault(stage, sorted(p.name for p in root.iterdir())),
    )
    monkeypatch.setattr(keyword_writer, "BLOCK_POSTINGS", 200)  # many term ranges, one file each
    renamed: list[tuple[str, str]] = []
    move = keyword_writer.shutil.move
    monkeypatch.setattr(
        keyword_writer.shutil, "move", lambda a, b: renamed.append((Path(a).name, Path(b).name)) or move(a, b)
    )
    build_index(corpus, root, embedder=fake_embedder, progress=False)
    # the FAISS index is built from the spool, then the spool is deleted, before any file is written
    assert not any(name.startswith(".staging-vectors-") for name in seen["faiss"] + seen[KEYWORD_DIR])
    assert renamed == [("ids.npy", "ids.npy")]
    assert not [p for p in root.rglob("*") if p.name.startswith((".staging-", "postings-"))]
    loaded = load_index(root)
    stored = ChunkTokens.load(loaded.path(KEYWORD_DIR) / TOKENS_DIR)
    assert stored is not None and len(stored) == len(loaded.chunks)
    keyword = KeywordIndex.load(loaded.path(KEYWORD_DIR))
    first = loaded.chunks[0].chunk.text
    assert keyword.search(first, 1)[0][0] == 0  # a chunk's own text finds it first


def test_auto_picks_ivfsq8_from_its_threshold(tmp_path, fake_embedder):
    corpus = _corpus(tmp_path / "corpus", 60)
    settings = IndexSettings(store=StoreSettings(hnsw_threshold=10, ivf_threshold=40))
    build_index(corpus, tmp_path / "idx", settings, embedder=fake_embedder, progress=False)
    faiss = load_index(tmp_path / "idx").manifest["faiss"]
    assert (faiss["type"], faiss["chosen"], faiss["nprobe"]) == ("ivfsq8", "auto", 32)


_MEMORY_CHILD = """
import hashlib, json, resource, sys
from pathlib import Path
import numpy as np
from index.build import write_articles
from index.documents import Article, Section
from index.settings import IndexSettings, StoreSettings
from index.text import tokenize

class Fast:
    model_id, fingerprint, dimension = "fake/fast", "fast0001", 384
    prompts = {"query": None, "passage": None}
    def embed_queries(self, texts):
        return self.embed_passages(texts)
    def embed_passages(self, texts, progress=False):
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

n, root = int(sys.argv[1]), Path(sys.argv[2])
tokenize("预热分词器")
base = rss_mb()
articles = []
for i in range(n):
    text = f"第{i}号新闻，本市第{i % 97}届运动会于{i % 28 + 1}日开幕，{i * 7 % 900}名运动员参加，观众{i % 13}万人。"
    articles.append(Article(f"a{i}", f"第{i}号", text, ((0, len(text)),), (Section(None, 0, len(text)),)))
records = rss_mb() - base
settings = IndexSettings(store=StoreSettings(index_type="flat"))
report = write_articles(root, articles, settings, embedder=Fast(), progress=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"chunks": report.chunks, "growth": peak - base, "articles": records}))
"""


def _build_growth(tmp_path: Path, n: int) -> dict[str, float]:
    """Peak RSS growth (MB) of a fresh process building an index of `n` one-chunk articles."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(n), str(tmp_path / f"idx-{n}")],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_build_memory_grows_only_with_the_records_and_the_index(tmp_path):
    small, large = _build_growth(tmp_path, 20_000), _build_growth(tmp_path, 100_000)
    assert (small["chunks"], large["chunks"]) == (20_000, 100_000)
    # what 80,000 more chunks may add: their articles (read into memory from the corpus), the flat
    # FAISS index (1.5 KB a 384-dimension vector, grown by doubling) and per-chunk hashes and
    # counts; a build holding every vector, token list or chunk record again breaks it
    grown = large["growth"] - small["growth"]
    # measured: 457 MB with the records spooled, 487 MB with them in memory, 855 MB before streaming
    # (bench/RESULTS.md §7)
    assert grown < 550, (small, large)
