"""`index build --ray` on a two-node Ray cluster bound to 127.0.0.1: an embedding worker is killed
mid-job, Ray replaces it, and the index equals the single-process build."""

from __future__ import annotations

import os

# Read by ray when it is imported: a cluster on one machine, every node at 127.0.0.1.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install 'wenda[ray]'")

from index.build import build_index
from index.distributed import RayOptions, ray_build_index, ray_module
from index.errors import MissingExtraError
from index.store import load_index


@dataclass(frozen=True)
class MarkingFactory:
    """Makes each actor's embedder: the fake one, slowed down, leaving `<pid>-<n>` in `marks`
    after each batch so the test knows which process to kill."""

    embedder_class: type
    marks: str
    delay: float

    def __call__(self, settings):
        return _Marking(self.embedder_class(), Path(self.marks), self.delay)


class _Marking:
    def __init__(self, inner, marks: Path, delay: float) -> None:
        self.inner, self.marks, self.delay, self.calls = inner, marks, delay, 0
        self.model_id, self.fingerprint, self.dimension = inner.model_id, inner.fingerprint, inner.dimension
        self.prompts = inner.prompts

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=False):
        time.sleep(self.delay)
        self.calls += 1
        (self.marks / f"{os.getpid()}-{self.calls}").touch()
        return self.inner.embed_passages(texts)


@pytest.fixture
def cluster() -> Iterator[object]:
    """A head and a worker node on 127.0.0.1, one CPU each; shut down afterwards."""
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        made.add_node(num_cpus=1)
        ray.init(address=made.address, log_to_driver=False)
        made.wait_for_nodes()
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


@pytest.mark.slow  # a two-node Ray cluster on 2 cores: about 15 seconds
def test_ray_build_survives_a_killed_worker_and_equals_the_local_build(
    cluster, sample_corpus, tmp_path, fake_embedder
):
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert len(nodes) == 2 and {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}
    marks = tmp_path / "marks"
    marks.mkdir()
    for module in {sys.modules[__name__], sys.modules[type(fake_embedder).__module__]}:
        ray.cloudpickle.register_pickle_by_value(module)  # the workers cannot import the test modules
    factory = MarkingFactory(type(fake_embedder), str(marks), delay=0.4)
    killed: list[int] = []
    marked_before_kill: list[int] = []

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 300
        while not killed and time.monotonic() < deadline:
            done = sorted(marks.iterdir())
            if done:
                pid = int(done[0].name.split("-")[0])
                os.kill(pid, signal.SIGKILL)  # an actor process of the pool, mid-job
                killed.append(pid)
                marked_before_kill.append(len(list(marks.iterdir())))
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker, daemon=True)
    killer.start()
    options = RayOptions(workers=2, cpus_per_actor=0.5, batch_size=4)
    report = ray_build_index(
        sample_corpus, tmp_path / "ray", options=options, embedder_factory=factory, progress=False
    )
    killer.join(5)
    assert killed, "no worker was killed"
    done = list(marks.iterdir())
    # the actor calls hold 4 chunks each (RayOptions.batch_size), so the job was far from done
    # when the first one was killed: batches were embedded after it, by other processes
    assert len(done) > marked_before_kill[0] + 2
    pids = {int(p.name.split("-")[0]) for p in done}
    assert len(pids - set(killed)) >= 1  # Ray replaced the killed actor (or the other finished its work)

    build_index(sample_corpus, tmp_path / "local", embedder=fake_embedder, progress=False)
    on_ray, local = load_index(tmp_path / "ray"), load_index(tmp_path / "local")
    assert report.chunks == len(local.chunks) and report.embedded == len(local.chunks)
    assert [(c.chunk.id, c.vid, c.embed_hash) for c in on_ray.chunks] == [
        (c.chunk.id, c.vid, c.embed_hash) for c in local.chunks
    ]
    assert on_ray.articles == local.articles
    vids = [c.vid for c in local.chunks]
    a, b = on_ray.vectors.reconstruct(vids), local.vectors.reconstruct(vids)
    cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosines.min() >= 1 - 1e-5
    assert on_ray.manifest["model"] == local.manifest["model"]


def test_a_missing_ray_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'wenda\[ray\]'"):
        ray_module()
