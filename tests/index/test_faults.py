"""Faults while writing: build, add and remove killed at random moments; a disk that fills up mid-write.

Whatever happens, the previous index (or, after a completed write, the new one) loads with
every checksum verified and answers, and every failure is one line naming its cause.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from tqdm import tqdm

import index.store.generations
from index.__main__ import main
from index.store import CURRENT, load_index
from index.store.keyword import KEYWORD_DIR, KeywordIndex

pytestmark = pytest.mark.slow  # about a minute: dozens of writes, each killed or starved of space

SAMPLE_ID = "000_40a999470f34a1c1"
OLD = {f"{SAMPLE_ID}#1", f"{SAMPLE_ID}#2"}
KILLS_PER_KIND = 11
STAGE_DELAY = 0.02  # seconds each step of writing a generation is slowed down by, to widen the write window


@pytest.fixture
def corpora(tmp_path, sample_corpus) -> tuple[Path, Path]:
    """The sample corpus, and the same plus one new article."""
    old = tmp_path / "corpus"
    shutil.copytree(sample_corpus, old)
    new = tmp_path / "corpus-new"
    shutil.copytree(sample_corpus, new)
    (new / "new.txt").write_text("青海湖的湟鱼洄游季开始了，成千上万条湟鱼逆流而上。", encoding="utf-8")
    return old, new


def _commands(kind: str, root: Path, old: Path, new: Path) -> tuple[list[str], set[str]]:
    """The command line of a write of `kind`, and the articles the index holds once it is done."""
    if kind == "build":
        return ["build", "--corpus", str(new), "--index", str(root), "--quiet"], OLD | {"new"}
    if kind == "add":
        return ["add", "--index", str(root), str(new / "new.txt"), "--quiet"], OLD | {"new"}
    return ["remove", "--index", str(root), f"{SAMPLE_ID}#2"], OLD - {f"{SAMPLE_ID}#2"}


def _restore(root: Path, old: Path) -> None:
    """Make the index the sample again (a build, which also cleans up after a killed writer)."""
    assert main(["build", "--corpus", str(old), "--index", str(root), "--quiet"]) == 0


def _answers(root: Path, embedder) -> set[str]:
    """Load the index (verifying every checksum), check it answers, and return its article ids."""
    loaded = load_index(root, embedder.model_id, embedder.fingerprint)
    keyword = KeywordIndex.load(loaded.path(KEYWORD_DIR))
    by_vid = {c.vid: c.chunk for c in loaded.chunks}
    for position, stored in enumerate(loaded.chunks[:: max(1, len(loaded.chunks) // 4)]):
        text = stored.chunk.text
        ids, _ = loaded.vectors.search(embedder.embed_queries([text])[0], 1)
        assert by_vid[int(ids[0])].article_id == stored.chunk.article_id  # dense search finds it
        scores = keyword.scores(text)
        assert scores.shape == (len(loaded.chunks),) and np.max(scores) > 0  # keyword search too
    return set(loaded.articles)


def _child(argv: list[str], stop_at: str | None, stopped) -> None:
    """A writer process: the command line with every write step slightly slowed down, and, with
    `stop_at`, held at that step (after setting `stopped`) until it is killed."""
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the process is killed, never closes it
    _private_tqdm_locks()

    def hook(stage: str) -> None:
        time.sleep(STAGE_DELAY)
        if stage == stop_at:
            stopped.set()
            time.sleep(600)

    index.store.generations.stage_hook = hook
    os._exit(main(argv))  # the fake model was patched in before the fork


def _private_tqdm_locks() -> None:
    """Give the child its own tqdm write locks. tqdm's default lock holds a semaphore shared with
    the parent across the fork, so a child killed inside a progress bar's set-up (bm25s makes one,
    even hidden) would leave it held and block the parent's next bar forever."""
    classes = [tqdm]
    while classes:
        cls = classes.pop()
        cls.set_lock(threading.RLock())
        classes.extend(cls.__subclasses__())


def _run(argv: list[str], kill_after: float | None, stop_at: str | None = None) -> int | None:
    """Run a writer in a forked process; SIGKILL it after `kill_after` seconds (None: let it
    finish), or once it reaches the write step `stop_at`."""
    context = multiprocessing.get_context("fork")
    stopped = context.Event()
    child = context.Process(target=_child, args=(argv, stop_at, stopped))
    child.start()
    if stop_at is None:
        child.join(kill_after)
    else:
        assert stopped.wait(60), f"the writer never reached {stop_at!r}"
    if child.is_alive():
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        return None
    return child.exitcode


def _leftovers(root: Path) -> list[str]:
    """What a writer left beside the live generation: scratch, temporaries, other generations."""
    live = (root / CURRENT).read_text().strip()
    return sorted(
        p.name
        for p in root.iterdir()
        if p.name.startswith((".staging-", ".CURRENT.", ".gen-", "gen-")) and p.name != live
    )


def _assert_clean(root: Path) -> None:
    """Only the live generation and at most the previous one (kept for readers) are left."""
    left = _leftovers(root)
    assert len(left) <= 1 and not [n for n in left if n.startswith(".")], left


def test_writers_killed_at_random_moments_leave_an_index_that_loads_and_answers(
    tmp_path, corpora, fake_model
):
    old, new = corpora
    root = tmp_path / "idx"
    _restore(root, old)
    rng = random.Random(20250630)
    outcomes = {"old": 0, "new": 0}
    mid_write = kills = 0
    for kind in ("build", "add", "remove"):
        argv, done = _commands(kind, root, old, new)
        started = time.perf_counter()
        assert _run(argv, None) == 0  # uninterrupted, to time it
        duration = time.perf_counter() - started
        assert _answers(root, fake_model) == done
        _restore(root, old)
        killed = 0
        for _ in range(3 * KILLS_PER_KIND):
            live, before = (root / CURRENT).read_text().strip(), set(_leftovers(root))
            if _run(argv, rng.uniform(0, 1.1 * duration)) is not None:
                _restore(root, old)  # it finished first: else the next add or remove has nothing to do
                continue
            killed += 1
            mid_write += bool(
                set(_leftovers(root)) - before - {live}
            )  # scratch, or a generation never made live
            outcomes["new" if _killed_leaves(root, old, fake_model, done) else "old"] += 1
            if killed == KILLS_PER_KIND:
                break
        kills += killed
        # The moments either side of the swap, on purpose: random kills seldom land in the short
        # window between CURRENT naming the new generation and the writer's exit.
        assert _run(argv, None, stop_at="swap") is None
        assert not _killed_leaves(root, old, fake_model, done), f"{kind}: killed before the swap"
        assert _run(argv, None, stop_at="swapped") is None
        assert _killed_leaves(root, old, fake_model, done), f"{kind}: killed after the swap"
    print(f"{kills} random kills: {outcomes}, {mid_write} mid-write")
    assert kills >= 30
    assert outcomes["old"] and mid_write  # random kills landed before and during writes


def _killed_leaves(root: Path, old: Path, embedder, done: set[str]) -> bool:
    """After a killed write: check the index loads and answers with either the old articles or
    all of `done`, never a mix; say whether it was `done`; then restore the old index, checking
    the next writer cleans up after the killed one."""
    articles = _answers(root, embedder)
    assert articles in (OLD, done), f"mixed state {sorted(articles)}"
    _restore(root, old)
    _assert_clean(root)
    assert _answers(root, embedder) == OLD
    return articles == done


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (needs root); unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up (needs root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill `disk` until `leave` bytes are free; return the filler file."""
    filler = disk / "filler"
    size = max(0, shutil.disk_usage(disk).free - leave)
    with filler.open("wb") as handle:
        handle.write(b"\0" * size)
    return filler


def test_a_disk_that_fills_up_mid_write_leaves_the_previous_index_and_says_so(
    small_disk, corpora, fake_model, capsys, monkeypatch
):
    old, new = corpora
    root = small_disk / "idx"
    _restore(root, old)
    generation = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    step = max(4096, generation // 6 // 4096 * 4096)  # about 8 levels of free space per kind of write
    named: dict[str, int] = {}
    succeeded = 0
    for kind in ("build", "add", "remove"):
        argv, done = _commands(kind, root, old, new)
        for leave in range(0, generation + 2 * step, step):
            filler = _fill(small_disk, leave)
            capsys.readouterr()
            status = main(argv)
            err = capsys.readouterr().err.strip()
            filler.unlink()
            if status == 0:
                succeeded += 1
                assert _answers(root, fake_model) == done
                _restore(root, old)
                continue
            assert status == 4, err
            assert err.count("\n") == 0 and err.startswith("error: disk full while writing "), err
            assert "free space and retry (the previous index is unchanged)" in err
            what = err.removeprefix("error: disk full while writing ").split(" of index ")[0]
            named[what] = named.get(what, 0) + 1
            assert _answers(root, fake_model) == OLD
            _assert_clean(root)  # nothing half-written left
    # The levels above seldom stop the FAISS write itself: a build deletes its vector spool
    # just before it, and FAISS writes into the space the spool held. So the disk is also
    # filled at that very moment, to meet FAISS's own error on a full disk and name it.
    argv, _ = _commands("build", root, old, new)
    fillers: list[Path] = []

    def full_at_faiss(stage: str) -> None:
        if stage == "faiss" and not fillers:
            fillers.append(_fill(small_disk, 0))

    monkeypatch.setattr(index.store.generations, "stage_hook", full_at_faiss)
    capsys.readouterr()
    status = main(argv)
    err = capsys.readouterr().err.strip()
    fillers[0].unlink()
    monkeypatch.undo()
    assert status == 4 and err.startswith("error: disk full while writing vectors.faiss of index "), err
    named["vectors.faiss"] = named.get("vectors.faiss", 0) + 1
    assert _answers(root, fake_model) == OLD
    _assert_clean(root)
    print(f"generation {generation} bytes; disk full while writing: {named}; {succeeded} writes fitted")
    assert "vectors.faiss" in named  # FAISS's own write error, named
    assert len(named) >= 3 and succeeded >= 3
