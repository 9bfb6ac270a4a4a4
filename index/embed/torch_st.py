"""The 'torch' embedding backend: a sentence-transformers model run as it is (fp32) on the CPU."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embed.base import PromptedEmbedder, model_fingerprint, resolve_model_path
from index.errors import EmbedderError
from index.settings import DEFAULT_MODEL_ID, EmbedSettings


class SentenceTransformerEmbedder(PromptedEmbedder):
    """An Embedder backed by a sentence-transformers model on the CPU (the 'torch' backend)."""

    backend = "torch"

    def __init__(self, settings: EmbedSettings | None = None, progress: bool = True) -> None:
        self.settings = settings or EmbedSettings()
        self.model_id = self.settings.model
        path = resolve_model_path(self.model_id, progress=progress)
        self.model = _load_model(path, self.settings)
        self.fingerprint = model_fingerprint(self.model_id, path)
        self.dimension = int(_dimension(self.model))
        self.use_prompts(getattr(self.model, "prompts", None) or {}, self.settings)

    @property
    def query_threads(self) -> int:
        """The threads embedding a question takes: torch's, process-wide (one made a question
        take 22 instead of 14 ms, so both are used)."""
        import torch

        return int(torch.get_num_threads())

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


def _dimension(model) -> int:
    """The embedding size (the method was renamed in sentence-transformers 6)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()
