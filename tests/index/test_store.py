"""The index directory: round trip, checksums, named errors, atomic swap, writer lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import index.store.generations
import index.store.vectors
from index.build import build_index
from index.errors import IndexCorruptError, IndexLockedError, IndexMismatchError, IndexNotFoundError
from index.settings import IndexSettings
from index.store import CURRENT, live_generation, load_index, writer_lock
from index.store.spool import CACHE_DIR
from index.store.vectors import VECTORS, warm_page_cache
from index.update import update_index


def _build(sample_corpus: Path, target: Path, embedder) -> Path:
    build_index(sample_corpus, target, IndexSettings(), embedder=embedder, progress=False)
    return target


def test_round_trip_writes_plain_files_and_loads_the_same_chunks(sample_corpus, tmp_path, fake_embedder):
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    generation = live_generation(root)
    written = sorted(p.relative_to(generation).as_posix() for p in generation.rglob("*") if p.is_file())
    assert {"manifest.json", "vectors.faiss", "records.sqlite"} <= set(written)
    assert any(name.startswith("keyword/") for name in written)
    assert not any(name.endswith((".pkl", ".pickle")) for name in written)
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == set(written) - {"manifest.json"}
    assert manifest["model"]["id"] == fake_embedder.model_id and manifest["model"]["dimension"] == 64
    loaded = load_index(root, fake_embedder.model_id, fake_embedder.fingerprint)
    assert loaded.faiss_index.ntotal == len(loaded.chunks) == manifest["counts"]["chunks"]
    assert set(loaded.articles) == {"000_40a999470f34a1c1#1", "000_40a999470f34a1c1#2"}
    for stored in loaded.chunks:
        article = loaded.articles[stored.chunk.article_id]
        assert article.text[stored.chunk.start : stored.chunk.end] == stored.chunk.text


def test_damaged_faiss_file_is_a_named_error(sample_corpus, tmp_path, fake_embedder):
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    target = live_generation(root) / "vectors.faiss"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="vectors.faiss.*damaged"):
        load_index(root)


def test_missing_file_is_a_named_error(sample_corpus, tmp_path, fake_embedder):
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    (live_generation(root) / "records.sqlite").unlink()
    with pytest.raises(IndexCorruptError, match="records.sqlite.*missing"):
        load_index(root)


def test_wrong_model_is_a_named_error(sample_corpus, tmp_path, fake_embedder):
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        load_index(root, "some/other-model", "ffff")
    with pytest.raises(IndexMismatchError, match="fingerprint"):
        load_index(root, fake_embedder.model_id, "another-version")


def test_missing_index_directory_is_a_named_error(tmp_path):
    with pytest.raises(IndexNotFoundError, match="python -m index build"):
        load_index(tmp_path / "nothing-here")


def test_rebuild_reuses_vectors_of_unchanged_chunks(sample_corpus, tmp_path, fake_embedder):
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    report = build_index(sample_corpus, root, IndexSettings(), embedder=fake_embedder, progress=False)
    assert report.embedded == 0 and report.reused == report.chunks > 0


def test_second_writer_is_refused(tmp_path):
    with writer_lock(tmp_path / "idx"), pytest.raises(IndexLockedError, match="another process"):
        writer_lock(tmp_path / "idx").acquire()


class _SlowEmbedder:
    """Embeds like the fake one, then stalls, so the build can be killed mid-way."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id, self.fingerprint, self.dimension = inner.model_id, inner.fingerprint, inner.dimension

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=False):
        time.sleep(60)
        return self.inner.embed_passages(texts)


def test_build_killed_midway_leaves_the_old_index_answering(sample_corpus, tmp_path, fake_embedder):
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    before = (root / CURRENT).read_text()
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "new.txt").write_text("一篇新的文章，内容不同。", encoding="utf-8")
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_slow_build, args=(str(extra), str(root), fake_embedder))
    child.start()
    time.sleep(1.5)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert (root / CURRENT).read_text() == before
    loaded = load_index(root, fake_embedder.model_id, fake_embedder.fingerprint)
    assert len(loaded.articles) == 2
    # the lock died with the writer, so a new build can proceed
    build_index(extra, root, IndexSettings(), embedder=fake_embedder, progress=False)
    assert set(load_index(root).articles) == {"new"}


def _slow_build(corpus: str, root: str, embedder) -> None:
    build_index(Path(corpus), Path(root), IndexSettings(), embedder=_SlowEmbedder(embedder), progress=False)


STAGE_DELAY = 0.08  # seconds each step of writing a generation is slowed down by in the killed writer


def _slow_writer(kind: str, corpus: str, root: str, embedder, started) -> None:
    """Build or update with every write step slowed down; tells the parent when writing starts."""

    def slow(stage: str) -> None:
        started.set()
        time.sleep(STAGE_DELAY)

    index.store.generations.stage_hook = slow
    if kind == "build":
        build_index(Path(corpus), Path(root), IndexSettings(), embedder=embedder, progress=False)
    else:
        update_index(Path(root), add=[Path(corpus)], embedder=embedder, progress=False)


@pytest.mark.parametrize("kind", ["build", "update"])
def test_writer_killed_at_any_step_of_the_write_leaves_a_loadable_index(
    kind, sample_corpus, tmp_path, fake_embedder
):
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    old_articles = set(load_index(root).articles)
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "new.txt").write_text("一篇新的文章，内容不同。", encoding="utf-8")
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(20250630)
    # delays spread over the whole write (about 8 slowed steps), from before the first file to after the swap
    delays = [0.0, 0.03, *(rng.uniform(0, 10 * STAGE_DELAY) for _ in range(5))]
    left_behind = 0
    for delay in delays:
        started = ctx.Event()
        child = ctx.Process(target=_slow_writer, args=(kind, str(extra), str(root), fake_embedder, started))
        child.start()
        assert started.wait(30), "the writer never reached its write phase"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        loaded = load_index(
            root, fake_embedder.model_id, fake_embedder.fingerprint
        )  # verifies every checksum
        new_articles = {"new"} if kind == "build" else old_articles | {"new"}
        assert set(loaded.articles) in (old_articles, new_articles)
        left_behind += any(p.name.startswith(".staging-") for p in root.iterdir())
        # the next writer (here: a rebuild of the original corpus) cleans up after the killed one
        _build(sample_corpus, root, fake_embedder)
        names = [p.name for p in root.iterdir()]
        assert not [n for n in names if n.startswith((".staging-", ".CURRENT."))], names
        assert len([n for n in names if n.startswith("gen-")]) <= 2
        assert set(load_index(root).articles) == old_articles
    assert left_behind >= 1  # some kills did land mid-write


def test_rebuild_keeps_a_calibrated_abstention_rule(sample_corpus, tmp_path, fake_embedder):
    from dataclasses import replace

    from index.store import update_settings

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    settings = load_index(root).settings
    assert settings.retrieval == {}  # qa's defaults
    fitted = {**settings.retrieval, "abstain_threshold": 0.42, "calibration": "fitted on my.jsonl"}
    with writer_lock(root):
        update_settings(root, replace(settings, retrieval=fitted))
    build_index(sample_corpus, root, IndexSettings(), embedder=fake_embedder, progress=False)
    assert load_index(root).settings.retrieval == fitted


def test_sample_index_counts_as_stale_when_settings_change(sample_corpus, tmp_path, fake_embedder):
    from dataclasses import replace

    from index.sample import _current
    from index.store import update_settings

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    assert _current(root)
    settings = load_index(root).settings
    with writer_lock(root):
        update_settings(root, replace(settings, chunk=replace(settings.chunk, chunk_size=200)))
    assert not _current(root)


def test_a_calibrated_sample_index_stays_current(sample_corpus, tmp_path, fake_embedder):
    from dataclasses import replace

    from index.sample import _current
    from index.store import update_settings

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    settings = load_index(root).settings
    with writer_lock(root):
        update_settings(root, replace(settings, retrieval={"abstain_threshold": 0.3, "calibration": "mine"}))
    assert _current(root)  # qa's section says how to answer, not what the index holds: no rebuild


def test_vector_store_searches_and_reconstructs_by_vid(sample_corpus, tmp_path, fake_embedder):
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    loaded = load_index(root)
    store = loaded.vectors
    vids = [c.vid for c in loaded.chunks]
    assert store.ntotal == len(vids) and store.dimension == fake_embedder.dimension
    rows = store.reconstruct(vids[:3])
    assert rows.shape == (3, fake_embedder.dimension) and rows.dtype == np.float32
    ids, scores = store.search(rows[1], k=len(vids) + 5)  # more than stored: all of them, best first
    assert sorted(ids.tolist()) == sorted(vids) and ids[0] == vids[1]
    assert scores[0] == pytest.approx(1.0, abs=1e-5) and list(scores) == sorted(scores, reverse=True)
    assert store.reconstruct([]).shape == (0, fake_embedder.dimension)


def test_a_mapped_faiss_file_is_read_into_the_page_cache_when_it_fits(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    """Opening a mapped index asks the kernel to cache its file in the background, once the
    file is small against the memory available; a file too big for that is left to the
    searches' own reads; either way the index answers the same."""
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    asked: list[tuple[int, int]] = []
    real = os.posix_fadvise

    def fadvise(fd, offset, length, advice):
        asked.append((offset, length))
        return real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", fadvise)
    monkeypatch.setattr(index.store.vectors, "_WARM_STEP", 4096)
    size = (live_generation(root) / VECTORS).stat().st_size
    thread = warm_page_cache(live_generation(root) / VECTORS)
    assert thread is not None
    thread.join(timeout=10)
    assert [offset for offset, _ in asked] == list(range(0, size, 4096))  # the whole file
    asked.clear()
    assert warm_page_cache(live_generation(root) / VECTORS, share=size / 2**50) is None and not asked
    monkeypatch.setattr(index.store.vectors, "WARM_SHARE", size / 2**50)  # "too big"
    loaded = load_index(root, warm=True)  # as a server loads it
    assert loaded.vectors.mapped and not asked
    vids = [c.vid for c in loaded.chunks]
    assert loaded.vectors.search(loaded.vectors.reconstruct(vids[:1])[0], 1)[0][0] == vids[0]


def test_only_a_server_s_load_warms_the_page_cache(sample_corpus, tmp_path, fake_embedder, monkeypatch):
    """`index add` or `build` loading an index must not read a quarter of the memory ahead."""
    from index.store import generations

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    warmed: list[str] = []
    monkeypatch.setattr(index.store.vectors, "warm_page_cache", lambda path: warmed.append(path.name))
    monkeypatch.setattr(generations, "warm_page_cache", lambda path: warmed.append(path.name))
    load_index(root)
    assert warmed == []
    load_index(root, warm=True)
    assert warmed == [VECTORS, "records.sqlite"]  # in this order: they share one budget


def test_files_warmed_share_one_budget_in_the_order_asked(tmp_path, monkeypatch):
    """The FAISS file, the records and the keyword arrays are each read into the page cache only
    while all the files this process warmed fit WARM_SHARE of the memory available together."""
    monkeypatch.setattr(index.store.vectors, "_warmed", {})
    monkeypatch.setattr(index.store.vectors, "_memory_available", lambda: 10_000)
    monkeypatch.setattr(os, "posix_fadvise", lambda *a: None)
    files = []
    for name, size in (("a", 1500), ("b", 1200), ("c", 800), ("d", 300), ("e", 200)):
        (tmp_path / name).write_bytes(b"x" * size)
        files.append(tmp_path / name)
    warmed = [warm_page_cache(f, share=0.25) is not None for f in files]
    assert warmed == [True, False, True, False, True]  # 1500 + 800 + 200 = the 2,500 bytes allowed
    assert warm_page_cache(files[0], share=0.25) is not None  # the same file again counts once
    files[0].unlink()  # a file deleted since (a superseded generation) no longer counts
    assert warm_page_cache(files[1], share=0.25) is not None


def _rewrite_manifest(root: Path, change) -> None:
    """Replace the live manifest by `change(manifest)` (valid JSON, possibly the wrong shape)."""
    path = live_generation(root) / "manifest.json"
    path.write_text(json.dumps(change(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")


def _without(key: str):
    return lambda m: {k: v for k, v in m.items() if k != key}


def _with(path: str, value):
    def change(manifest):
        *parents, last = path.split(".")
        node = manifest
        for part in parents:
            node = node[part]
        node[last] = value
        return manifest

    return change


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda m: [m], "JSON list, not an object"),
        (lambda m: "text", "JSON str, not an object"),
        (_without("counts"), "counts is missing"),
        (_without("model"), "model is missing"),
        (_without("files"), "files is missing"),
        (_with("settings", "fast"), "settings should be an object"),
        (_with("settings.chunk", [1, 2]), "settings.chunk should be an object"),
        (_with("settings.chunk.chunk_size", "big"), "settings:"),
        (_with("counts.chunks", "12"), "counts.chunks should be a number"),
        (_with("model.dimension", -1), "model.dimension should be a number"),
        (_with("model.id", None), "model.id is missing"),
        (_with("faiss", {}), "faiss.type is missing"),
        (_with("files", {"../../etc/passwd": {"bytes": 1, "sha256": "0"}}), "not a path inside"),
        (_with("files", {"chunks.jsonl": {"bytes": "1"}}), "has no sha256"),
        (_with("next_vid", True), "next_vid should be a number"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_a_named_error(
    change, words, sample_corpus, tmp_path, fake_embedder
):
    from index.store import read_manifest

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    _rewrite_manifest(root, change)
    for read in (read_manifest, load_index):  # the CLI's info and qa's load_bot, the server's load
        with pytest.raises(IndexCorruptError, match="manifest.json") as caught:
            read(root)
        assert words in str(caught.value) and "rebuild" in str(caught.value)


@pytest.mark.parametrize(
    "how", ["absolute", "dotdot", "symlinked generation", "symlinked CURRENT", "garbage"]
)
def test_current_pointing_outside_the_index_is_refused(how, sample_corpus, tmp_path, fake_embedder):
    import shutil

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    outside = tmp_path / "outside" / "gen-elsewhere"
    outside.parent.mkdir()
    shutil.copytree(live_generation(root), outside)  # a complete, valid generation, but not this index's
    pointer = root / CURRENT
    if how == "absolute":
        pointer.write_text(str(outside) + "\n")
    elif how == "dotdot":
        pointer.write_text("../outside/gen-elsewhere\n")
    elif how == "symlinked generation":
        (root / "gen-linked").symlink_to(outside)
        pointer.write_text("gen-linked\n")
    elif how == "symlinked CURRENT":
        (tmp_path / "outside" / "CURRENT").write_text(live_generation(root).name + "\n")
        pointer.unlink()
        pointer.symlink_to(tmp_path / "outside" / "CURRENT")
    else:
        pointer.write_text("gen-x\nmore\x00")
    with pytest.raises(IndexCorruptError, match="CURRENT must name a generation directory inside the index"):
        load_index(root)


def test_disk_full_while_writing_is_a_named_error_and_the_old_index_stays(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    import errno
    from types import SimpleNamespace

    from index.errors import DiskFullError

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    before = ((root / CURRENT).read_text(), sorted(p.name for p in root.iterdir()))
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "new.txt").write_text("一篇新的文章，内容不同。", encoding="utf-8")

    def faiss_full(index, path):  # what faiss.write_index raises on a full disk
        raise RuntimeError(
            "Error in void faiss::write_index(const Index*, IOWriter*, int) at index_write.cpp:499: Error: "
            f"'ret == (size * 4)' failed: write error in {path}: 2016 != 13591 (No space left on device)"
        )

    def records_full(path, articles, chunks):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    def numpy_full(*args, **kwargs):  # numpy's tofile on a full disk: no errno, only this
        raise OSError("13591 requested and 2016 written")

    full_disk = SimpleNamespace(free=0)  # only on a full file system does a short write mean a full disk
    cases = [
        ({"index.store.vectors.faiss.write_index": faiss_full}, "vectors.faiss"),
        ({"index.store.generations.write_records": records_full}, "records.sqlite"),
        (
            {
                "index.store.keyword_writer._write_bm25": numpy_full,
                "index.files.shutil.disk_usage": lambda d: full_disk,
            },
            "keyword",
        ),
    ]
    for patches, name in cases:
        with monkeypatch.context() as patch:
            for target, fake in patches.items():
                patch.setattr(target, fake)
            with pytest.raises(DiskFullError) as caught:
                update_index(root, add=[extra], embedder=fake_embedder, progress=False)
        message = str(caught.value)
        assert message.startswith(f"disk full while writing {name}") and "free space and retry" in message
        assert "\n" not in message
        # the vectors embedded on the way stay in the durable cache, for the retry
        left = sorted(p.name for p in root.iterdir() if p.name != CACHE_DIR)
        assert ((root / CURRENT).read_text(), left) == before
        assert set(load_index(root).articles) == {"000_40a999470f34a1c1#1", "000_40a999470f34a1c1#2"}
    retry = update_index(root, add=[extra], embedder=fake_embedder, progress=False)
    assert retry.embedded == 0 and retry.added and not (root / CACHE_DIR).exists()


def test_another_failed_write_names_the_file_and_leaves_the_old_index(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    import errno

    from index.errors import IndexWriteError, exit_status

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    before = sorted(p.name for p in root.iterdir())

    def refused(path, articles, chunks):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    def refused_move(source, target):
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr("index.store.generations.write_records", refused)  # an update writes them
    monkeypatch.setattr("index.store.generations.take_records", refused_move)  # a build moves its own
    with pytest.raises(IndexWriteError) as caught:
        build_index(sample_corpus, root, IndexSettings(), embedder=fake_embedder, progress=False)
    assert str(caught.value) == (
        f"could not write records.sqlite of index {str(root)!r} (Permission denied); the previous index is unchanged"
    )
    assert exit_status(caught.value) == 4
    assert sorted(p.name for p in root.iterdir()) == before and len(load_index(root).articles) == 2


def test_stale_generations_are_removed_when_the_next_write_starts(sample_corpus, tmp_path, fake_embedder):
    import shutil

    from index.store.generations import remove_stale

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    live = live_generation(root)
    stale = [root / "gen-20000101T000000-dead01", root / ".staging-gen-x-abc", root / ".gen-y.old-1-abc"]
    for path in stale:
        shutil.copytree(live, path)
    (root / ".CURRENT.abc123").write_text("gen-x\n")
    old = time.time() - 60
    for path in [*stale, root / ".CURRENT.abc123"]:
        os.utime(path, (old, old))
    kept = root / "gen-20000101T000000-kept01"
    shutil.copytree(live, kept)
    os.utime(kept, (old, old))
    newer = root / "gen-20990101T000000-newer1"  # newer than the writer lock: another writer's, not stale
    seen_at_first_step = []

    def look(stage: str) -> None:
        if not seen_at_first_step:
            seen_at_first_step.append(sorted(p.name for p in root.iterdir()))

    with writer_lock(root):
        shutil.copytree(live, newer)
        os.utime(newer)  # written now, after the lock was taken
        remove_stale(root, keep={kept.name})
        names = {p.name for p in root.iterdir()}
        assert {live.name, kept.name, newer.name} <= names
        assert not names & {p.name for p in stale} and ".CURRENT.abc123" not in names
    for path in stale:
        shutil.copytree(live, path)
        os.utime(path, (old, old))
    from index.store import generations

    generations.stage_hook, hook = look, generations.stage_hook
    try:
        build_index(sample_corpus, root, IndexSettings(), embedder=fake_embedder, progress=False)
    finally:
        generations.stage_hook = hook
    assert not set(seen_at_first_step[0]) & {p.name for p in stale}  # gone before the new files are written
    names = {p.name for p in root.iterdir() if not p.name.startswith(".lock")}
    assert names == {CURRENT, live_generation(root).name, live.name}  # the new one and the previous one


def test_build_fails_on_a_taken_lock_before_reading_or_loading_the_model(
    sample_corpus, tmp_path, monkeypatch
):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded although another writer holds the index")

    def no_reading(*args, **kwargs):
        raise AssertionError("the corpus was read although another writer holds the index")

    monkeypatch.setattr("index.build.make_embedder", no_model)
    monkeypatch.setattr("index.build.read_corpus", no_reading)
    with writer_lock(tmp_path / "idx"), pytest.raises(IndexLockedError, match="another process"):
        build_index(sample_corpus, tmp_path / "idx", IndexSettings(), progress=False)


def _flip_last_byte(path: Path) -> None:
    """Change one byte of a file in place (its size and inode stay)."""
    with path.open("r+b") as handle:
        handle.seek(-1, os.SEEK_END)
        last = handle.read(1)
        handle.seek(-1, os.SEEK_END)
        handle.write(bytes([last[0] ^ 0xFF]))


def test_a_load_reads_again_only_files_changed_since_their_checksum_last_matched(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    from index.store import generations

    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    generation = live_generation(root)
    read: list[str] = []
    real_sha = generations.sha256_file

    def counted(path):
        read.append(path.name)
        return real_sha(path)

    monkeypatch.setattr(generations, "sha256_file", counted)
    load_index(root)  # just written: files this fresh are read, and not stamped
    assert "vectors.faiss" in read and not (generation / generations.VERIFIED).exists()
    monkeypatch.setattr(generations, "SETTLED_NS", 0)  # as if the files were written long ago
    read.clear()
    load_index(root)
    assert "vectors.faiss" in read and (generation / generations.VERIFIED).is_file()
    read.clear()
    load_index(root)
    assert read == []  # every file's stat is the stamped one
    time.sleep(0.05)
    _flip_last_byte(generation / "vectors.faiss")  # one byte changed in place
    with pytest.raises(IndexCorruptError, match="vectors.faiss.*checksum mismatch"):
        load_index(root)
    assert read == ["vectors.faiss"]
    read.clear()
    with pytest.raises(IndexCorruptError, match="checksum mismatch"):
        generations.verify_files(
            generation, json.loads((generation / "manifest.json").read_text()), full=True
        )
    assert "records.sqlite" in read  # a full check reads every file, stamped or not


def test_a_load_cross_checks_the_files_until_a_load_has_found_them_consistent(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    """Reading every FAISS id and counting every record took most of a large index's load;
    once a load has found the files consistent, loads of the unchanged files skip that."""
    from index.store import backends, generations, records

    monkeypatch.setattr(generations, "SETTLED_NS", 0)  # as if the files were written long ago
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    checked: list[bool] = []
    real_same, real_counts = backends._same_ids, records.Records.counts
    monkeypatch.setattr(backends, "_same_ids", lambda *a: checked.append(True) or real_same(*a))
    monkeypatch.setattr(
        records.Records,
        "counts",
        lambda self, counted=True: (checked.append(counted), real_counts(self, counted))[1],
    )
    first = load_index(root)
    assert checked == [True, True]  # rows counted, ids compared
    checked.clear()
    second = load_index(root)
    assert checked == [False]  # neither: the highest positions give the counts
    assert (len(second.chunks), len(second.articles)) == (len(first.chunks), len(first.articles))
    assert [c.vid for c in second.chunks] == [c.vid for c in first.chunks]
    checked.clear()
    generations.verify_files(live_generation(root), first.manifest, full=True)  # `index info`
    load_index(root)
    assert checked == [False]  # every file read again and found unchanged: still trusted
    checked.clear()
    os.utime(live_generation(root) / "records.sqlite")  # a file touched since: checked again
    load_index(root)
    assert checked == [True, True]


def _reads_and_checks(monkeypatch) -> tuple[list[str], list[bool]]:
    """Record each file a load checksums and each cross-check it runs (True: a full one)."""
    from index.store import backends, generations, records

    read: list[str] = []
    checked: list[bool] = []
    real_sha, real_same, real_counts = generations.sha256_file, backends._same_ids, records.Records.counts
    monkeypatch.setattr(generations, "sha256_file", lambda path: read.append(path.name) or real_sha(path))
    monkeypatch.setattr(backends, "_same_ids", lambda *a: checked.append(True) or real_same(*a))
    monkeypatch.setattr(
        records.Records,
        "counts",
        lambda self, counted=True: (checked.append(counted), real_counts(self, counted))[1],
    )
    return read, checked


def test_a_settings_change_keeps_the_files_verified(sample_corpus, tmp_path, fake_embedder, monkeypatch):
    """`update_settings` hard-links the files into a new generation, which moves their change
    time: the first load after it read and cross-checked every file again (52 s at 10M)."""
    from dataclasses import replace

    from index.store import generations, update_settings

    monkeypatch.setattr(generations, "SETTLED_NS", 0)  # as if the files were written long ago
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    before = load_index(root)  # checked, stamped, found consistent
    read, checked = _reads_and_checks(monkeypatch)
    with writer_lock(root):
        update_settings(root, replace(before.settings, retrieval={"abstain_threshold": 0.3}))
    read.clear()  # update_settings verifies the live files first (by their stamp: none read)
    # the links moved the files' change times just now: the stamp carried over is what trusts them
    monkeypatch.setattr(generations, "SETTLED_NS", 3_600_000_000_000)
    after = load_index(root)
    assert after.generation != before.generation and after.settings.retrieval == {"abstain_threshold": 0.3}
    assert read == [] and checked == [False]  # no checksum read, no cross-check
    load_index(root)
    assert read == [] and checked == [False, False]  # and that load kept the stamp
    assert [c.vid for c in after.chunks] == [c.vid for c in before.chunks]
    # a file changed after the link is still read again, and its damage found
    time.sleep(0.05)
    _flip_last_byte(after.generation / VECTORS)
    with pytest.raises(IndexCorruptError, match="checksum mismatch"):
        load_index(root)
    assert read == [VECTORS]


def test_a_read_only_generation_keeps_its_stamp_and_background_in_the_cache_dir(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    """An index mounted read-only was checksummed and cross-checked in full, and its
    abstention background measured, at every load: what a load learns is kept in the cache
    directory instead, and trusted only while the files' stats match."""
    import qa.bot
    from index.store import generations
    from qa.bot import load_bot

    monkeypatch.setattr(generations, "SETTLED_NS", 0)
    monkeypatch.setenv("WENDA_CACHE_DIR", str(tmp_path / "cache"))
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    generation = live_generation(root)
    real_write = generations.write_json

    def read_only(path, data, **kwargs):
        if Path(path).parent == generation:
            raise PermissionError(13, "Read-only file system", str(path))
        return real_write(path, data, **kwargs)

    monkeypatch.setattr(generations, "write_json", read_only)
    read, checked = _reads_and_checks(monkeypatch)
    measured: list[int] = []
    real_measure = qa.bot.measure_background
    monkeypatch.setattr(qa.bot, "measure_background", lambda *a: measured.append(1) or real_measure(*a))
    first = load_bot(root, embedder=fake_embedder, progress=False)
    assert first.background is not None  # measured, and kept
    assert "vectors.faiss" in read and checked == [True, True] and measured == [1]
    assert not {generations.VERIFIED, ".background.json"} & {p.name for p in generation.iterdir()}
    kept = {p.name: p for p in (tmp_path / "cache" / generations.KEPT_ELSEWHERE).glob("*/*")}
    assert set(kept) == {generations.VERIFIED, ".background.json", generations.KEPT_FOR}
    assert kept[generations.KEPT_FOR].read_text(encoding="utf-8").strip() == str(generation.resolve())
    # a read-only copy may carry its source's stamp (same manifest, other inodes): the one kept
    # in the cache directory, whose stats match, is the one trusted
    copied = json.loads(kept[generations.VERIFIED].read_text(encoding="utf-8"))
    copied["files"] = {
        name: [size, inode + 1, *times] for name, (size, inode, *times) in copied["files"].items()
    }
    (generation / generations.VERIFIED).write_text(json.dumps(copied), encoding="utf-8")
    read.clear()
    checked.clear()
    second = load_bot(root, embedder=fake_embedder, progress=False)
    assert second.background == first.background
    assert read == [] and checked == [False] and measured == [1]
    os.utime(generation / "records.sqlite")  # a file touched since: read and checked again
    read.clear()
    checked.clear()
    load_index(root)
    assert read == ["records.sqlite"] and checked == [True, True]


def test_what_the_cache_dir_keeps_for_generations_that_are_gone_is_pruned(tmp_path, monkeypatch):
    from index.store import generations

    monkeypatch.setenv("WENDA_CACHE_DIR", str(tmp_path / "cache"))
    real_write = generations.write_json
    read_only = {tmp_path / "gone", tmp_path / "live"}

    def write_json(path, data, **kwargs):
        if Path(path).parent in read_only:
            raise PermissionError(13, "Read-only file system", str(path))
        return real_write(path, data, **kwargs)

    monkeypatch.setattr(generations, "write_json", write_json)
    for generation in read_only:
        generation.mkdir()
        assert generations.keep_derived(generation, "x.json", {"for": generation.name})
    kept = tmp_path / "cache" / generations.KEPT_ELSEWHERE
    unnoted_old, unnoted_new = kept / "old", kept / "new"  # kept before folders noted their generation
    for folder in (unnoted_old, unnoted_new):
        folder.mkdir()
        (folder / "x.json").write_text("{}", encoding="utf-8")
    os.utime(unnoted_old, (time.time() - 7200,) * 2)
    shutil.rmtree(tmp_path / "gone")
    assert generations.prune_derived() == 2  # the gone generation's folder, and the old unnoted one
    assert {p.name for p in kept.iterdir()} == {
        "new",
        generations.derived_paths(tmp_path / "live", "x")[1].parent.name,
    }
    assert generations.read_derived(tmp_path / "live", "x.json", lambda d: True) == {"for": "live"}
    assert generations.read_derived(tmp_path / "gone", "x.json", lambda d: True) is None


def test_faiss_ids_that_are_not_the_chunks_are_refused_even_after_a_sound_load(
    sample_corpus, tmp_path, fake_embedder, monkeypatch
):
    import faiss

    from index.store import generations

    monkeypatch.setattr(generations, "SETTLED_NS", 0)
    root = _build(sample_corpus, tmp_path / "idx", fake_embedder)
    load_index(root)  # found consistent, and stamped so
    generation = live_generation(root)
    native = faiss.read_index(str(generation / VECTORS))
    ids = faiss.vector_to_array(native.id_map)
    faiss.copy_array_to_vector(ids + 1000, native.id_map)  # as many vectors, other ids
    (generation / VECTORS).unlink()
    faiss.write_index(native, str(generation / VECTORS))
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][VECTORS] = {
        "bytes": (generation / VECTORS).stat().st_size,
        "sha256": generations.sha256_file(generation / VECTORS),
    }
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="FAISS ids"):
        load_index(root)
