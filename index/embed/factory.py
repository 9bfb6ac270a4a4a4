"""make_embedder: the one place that maps a backend name to its implementation."""

from __future__ import annotations

from index.embed.base import Embedder
from index.embed.torch_st import SentenceTransformerEmbedder
from index.settings import EmbedSettings


def make_embedder(settings: EmbedSettings | None = None, progress: bool = True) -> Embedder:
    """The Embedder for `settings.backend`: 'torch' (fp32 sentence-transformers) or 'onnx-int8'."""
    settings = settings or EmbedSettings()
    if settings.backend == "onnx-int8":
        from index.embed.onnx_int8 import OnnxInt8Embedder

        return OnnxInt8Embedder(settings, progress=progress)
    return SentenceTransformerEmbedder(settings, progress=progress)
