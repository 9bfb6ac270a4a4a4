"""The one place that names the vector store backends: FAISS (the default, a file in each
generation) and Milvus (a collection per generation on a Milvus server or Milvus Lite).

Builders get a `VectorWriter` from `new_vectors`/`updated_vectors`, generations write and
publish it, `open_vectors` reads a generation's vectors back as a `VectorStore`, and
`hybrid_searcher` tells qa whether the store fuses dense and keyword search itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.documents import Article
from index.errors import IndexCorruptError
from index.settings import StoreSettings
from index.store.vectors import (
    VECTORS,
    FaissVectors,
    FaissWriter,
    Rows,
    VectorStore,
    build_faiss,
    map_faiss,
    read_faiss,
    stored_ids,
    update_faiss,
)


class VectorWriter(Protocol):
    """The vectors of a generation being written, whatever holds them."""

    @property
    def ntotal(self) -> int: ...

    @property
    def dimension(self) -> int: ...

    def manifest(self) -> dict[str, Any]:
        """The manifest's entries that describe the vectors (`store`, and `faiss` for FAISS)."""
        ...

    def files(self) -> Mapping[str, Any]:
        """The files it adds to the generation, by name, each with its writer (path -> None)."""
        ...

    def publish(self, kept: Sequence[Mapping[str, Any]]) -> None:
        """Called once the generation is live, with the `store` sections of the older
        generations still kept (the previous one, and those a running server holds a lease on)."""
        ...


class HybridSearcher(Protocol):
    """A store that fuses dense and keyword search itself (Milvus hybrid_search with RRF)."""

    def hybrid_search(
        self, query: str, vector: np.ndarray, k: int, weights: tuple[float, float], rrf_k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The vids and fused scores of the `k` best chunks, best first."""
        ...


def backend_of(manifest: Mapping[str, Any]) -> str:
    """The backend that holds a generation's vectors (indexes written before backends: faiss)."""
    store = manifest.get("store")
    return str(store.get("backend", "faiss")) if isinstance(store, dict) else "faiss"


def store_words(manifest: Mapping[str, Any]) -> str:
    """The vector store of a generation in a few words: `FAISS flat`, `Milvus HNSW (collection …)`."""
    if backend_of(manifest) == "milvus":
        store = manifest["store"]
        return f"Milvus {store.get('index_type')} (collection {store.get('collection')})"
    return f"FAISS {manifest['faiss']['type']}"


def settled(settings: StoreSettings, root: Path, previous: Mapping[str, Any] | None) -> StoreSettings:
    """The store settings as a build records them: a Milvus Lite path made absolute, and the
    alias given, else the previous build's, else `wenda_<index directory name>`."""
    if settings.backend != "milvus":
        return settings
    from index.store.milvus import default_alias, normalized_uri

    earlier = (previous or {}).get("store") or {}
    alias = settings.milvus_alias or earlier.get("alias") or default_alias(root)
    return replace(settings, milvus_uri=normalized_uri(settings.milvus_uri or ""), milvus_alias=alias)


def new_vectors(
    vectors: Rows,
    chunks: Sequence[Any],
    settings: StoreSettings,
    dimension: int,
    *,
    root: Path,
    articles: Sequence[Article],
    texts: Sequence[str] | None,
    progress: bool = False,
) -> VectorWriter:
    """The vectors of a new generation in the configured backend.

    `texts` are the chunks' embedded texts (the Milvus store indexes them for BM25).
    """
    if settings.backend == "milvus":
        from index.store.milvus import MilvusWriter

        if texts is None or len(texts) != len(chunks):
            raise ValueError("the Milvus store needs the embedded text of every chunk")
        by_id = {a.id: a for a in articles}
        return MilvusWriter.build(settings, root, chunks, by_id, texts, np.asarray(vectors), progress)
    return FaissWriter(*build_faiss(vectors, [c.vid for c in chunks], settings, dimension))


def updated_vectors(
    previous: Any,
    chunks: Sequence[Any],
    fresh: Sequence[int],
    new_vectors_: np.ndarray,
    touched: Sequence[tuple[int, Article, str]],
    settings: StoreSettings,
    progress: bool = False,
) -> tuple[VectorWriter, str]:
    """The vectors after an update of `previous` (a LoadedIndex), and what was done, in words.

    `chunks` are the new chunk list, `fresh` the positions in it of the chunks embedded now
    (their vectors are `new_vectors_`, in order), `touched` the (position, article, embedded
    text) of every chunk of a new or changed article.
    """
    if backend_of(previous.manifest) == "milvus":
        from index.store.milvus import MilvusWriter

        vector_of = dict(zip(fresh, new_vectors_))
        kept = [p for p, _, _ in touched if p not in vector_of]
        vector_of.update(zip(kept, previous.vectors.reconstruct([chunks[p].vid for p in kept])))
        upserts = [(chunks[p], article, text, vector_of[p]) for p, article, text in touched]
        gone = sorted({c.chunk.id for c in previous.chunks} - {c.chunk.id for c in chunks})
        # vids from here on were never live: rows holding them are a killed update's leftovers
        unused = max(
            int(previous.manifest.get("next_vid", 0)), max((c.vid for c in previous.chunks), default=-1) + 1
        )
        writer = MilvusWriter.update(
            previous.vectors, settings, len(chunks), upserts, gone, unused, progress=progress
        )
        return writer, f"{len(upserts)} rows upserted, {len(gone)} deleted by chunk id"
    mapped = getattr(previous.vectors, "mapped", False)  # a mapped index must not change: read a copy
    index, info, action = update_faiss(
        read_faiss(previous.path(VECTORS)) if mapped else previous.faiss_index,
        previous.manifest["faiss"],
        [c.vid for c in previous.chunks],
        [c.vid for c in chunks],
        [chunks[p].vid for p in fresh],
        new_vectors_,
        settings,
    )
    return FaissWriter(index, info), action


def open_vectors(
    root: Path,
    generation: Path,
    manifest: Mapping[str, Any],
    settings: StoreSettings,
    chunks: Sequence[Any],
    check_ids: bool = True,
    warm: bool = False,
) -> tuple[VectorStore, Any]:
    """A generation's vectors as a VectorStore, and the native FAISS index (None for Milvus).
    With `check_ids` (unless a load already found these very files consistent), the FAISS
    ids are compared with the chunks' vids: a read of every id and every chunk record. With
    `warm`, a mapped FAISS file is read into the page cache in the background.

    Raises:
        IndexCorruptError: the vectors do not match the chunks.
        StoreUnavailableError: the Milvus server cannot be reached.
    """
    if backend_of(manifest) == "milvus":
        from index.store.milvus import MilvusVectors

        return MilvusVectors.open(
            settings, manifest["store"], chunks, int(manifest["model"]["dimension"])
        ), None
    try:
        index, mapped = map_faiss(generation / VECTORS, warm)
    except RuntimeError as exc:
        raise IndexCorruptError(f"index {str(root)!r} is damaged ({exc}); rebuild it") from exc
    if index.ntotal != len(chunks) or (check_ids and not _same_ids(index, chunks)):
        raise IndexCorruptError(f"index {str(root)!r}: the FAISS ids are not the chunks' vids: rebuild it")
    return FaissVectors(index, mapped), index


def _same_ids(index: Any, chunks: Sequence[Any]) -> bool:
    """True when the ids of an ID-mapped index are the chunks' vids (compared as sorted arrays,
    with the chunks read in batches when they live in a records file)."""
    ids = stored_ids(index)
    if ids is None:
        return True
    if callable(getattr(chunks, "vids", None)):
        vids = chunks.vids()  # type: ignore[attr-defined]
    else:
        vids = np.fromiter((c.vid for c in chunks), dtype=np.int64, count=len(chunks))
    return bool(np.array_equal(np.sort(ids), np.sort(vids)))


def hybrid_searcher(vectors: VectorStore) -> HybridSearcher | None:
    """The store itself, when it runs hybrid (dense + keyword) search; else None."""
    return vectors if callable(getattr(vectors, "hybrid_search", None)) else None  # type: ignore[return-value]
