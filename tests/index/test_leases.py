"""Leases keep the generations a server reads; writers report progress and when articles were added."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build import build_index
from index.errors import IndexNotFoundError
from index.progress import Progress
from index.store import CURRENT, live_generation, load_index
from index.store.added import read_added
from index.store.leases import LEASES, Lease, leased_generations
from index.update import update_index

NEWS = "# 新闻\n\n伽马公司今天在杭州发布了新型号的电动汽车，续航达到八百公里。\n"


@pytest.fixture
def index_dir(tmp_path, sample_corpus, fake_embedder) -> Path:
    target = tmp_path / "idx"
    build_index(sample_corpus, target, embedder=fake_embedder, progress=False)
    return target


def _generations(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.name.startswith("gen-")}


def _add(root: Path, tmp_path: Path, embedder, name: str) -> None:
    path = tmp_path / f"{name}.md"
    path.write_text(NEWS.replace("伽马", name), encoding="utf-8")
    update_index(root, add=[path], root=tmp_path, embedder=embedder, progress=False)


def test_writers_keep_a_leased_generation_and_drop_it_after_release(index_dir, tmp_path, fake_embedder):
    first = live_generation(index_dir).name
    lease = Lease(index_dir)
    lease.hold([first])
    for name in ("a", "b", "c"):
        _add(index_dir, tmp_path, fake_embedder, name)
    assert first in _generations(index_dir)  # three writes later, the served generation is still there
    assert load_index(index_dir, generation=first).manifest["counts"]["articles"] == 2
    lease.release()
    _add(index_dir, tmp_path, fake_embedder, "d")
    assert first not in _generations(index_dir)
    assert len(_generations(index_dir)) == 2  # the live one and the one it just replaced


def test_a_lease_of_a_dead_process_or_not_refreshed_is_stale_and_pruned(index_dir):
    first = live_generation(index_dir).name
    folder = index_dir / LEASES
    folder.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    host = socket.gethostname()
    (folder / "dead.json").write_text(
        json.dumps({"pid": int(dead.stdout), "host": host, "generations": [first]})
    )
    old = folder / "old.json"
    old.write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere", "generations": [first]}))
    long_ago = time.time() - 3600
    os.utime(old, (long_ago, long_ago))
    assert leased_generations(index_dir) == set()
    assert leased_generations(index_dir, prune=True) == set()
    assert list(folder.iterdir()) == []
    alive = folder / "alive.json"
    alive.write_text(json.dumps({"pid": os.getpid(), "host": host, "generations": [first]}))
    assert leased_generations(index_dir) == {first}


def test_a_lease_is_refreshed_and_names_what_it_holds(index_dir):
    lease = Lease(index_dir)
    lease.hold(["gen-a", "gen-b", "gen-a"])
    data = json.loads(lease.path.read_text())
    assert data["generations"] == ["gen-a", "gen-b"] and data["pid"] == os.getpid()
    lease.path.unlink()
    lease.refresh(every=3600)  # a deleted lease comes back at once
    assert lease.path.exists()
    lease.release()
    assert not lease.path.exists()


def test_a_named_generation_loads_and_a_bad_name_is_refused(index_dir):
    live = live_generation(index_dir).name
    assert load_index(index_dir, generation=live).generation.name == live
    for bad in ("../idx", "gen-missing", "CURRENT"):
        with pytest.raises(IndexNotFoundError):
            load_index(index_dir, generation=bad)
    assert (index_dir / CURRENT).read_text().strip() == live


def test_build_and_update_report_progress(tmp_path, sample_corpus, fake_embedder):
    seen: list[Progress] = []
    target = tmp_path / "idx"
    build_index(sample_corpus, target, embedder=fake_embedder, progress=False, on_progress=seen.append)
    stages = [p.stage for p in seen]
    assert stages[0] == "read" and stages[-1] == "write"
    assert {"read", "chunk", "embed", "write"} <= set(stages)
    embed = [p for p in seen if p.stage == "embed"]
    assert embed[-1].done == embed[-1].total > 0 and len(embed) >= 2  # moves in steps
    assert [p.done for p in embed] == sorted(p.done for p in embed)
    assert seen[-1] == Progress("write", 1, 1)
    seen.clear()
    news = tmp_path / "news.md"
    news.write_text(NEWS, encoding="utf-8")
    update_index(target, add=[news], embedder=fake_embedder, progress=False, on_progress=seen.append)
    assert [p for p in seen if p.stage == "read"] == [Progress("read", 1, 1)]
    assert Progress("chunk", 1, 1) in seen and seen[-1] == Progress("write", 1, 1)


def test_added_times_are_kept_for_unchanged_articles(index_dir, tmp_path, fake_embedder):
    before = read_added(load_index(index_dir))
    assert len(before) == 2 and all(t.endswith("Z") for t in before.values())
    time.sleep(1.1)
    _add(index_dir, tmp_path, fake_embedder, "a")
    after = read_added(load_index(index_dir))
    assert {k: after[k] for k in before} == before
    assert after["a"] > max(before.values())
    update_index(index_dir, remove=["a"], embedder=fake_embedder, progress=False)
    assert read_added(load_index(index_dir)) == before
