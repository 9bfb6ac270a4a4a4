"""The index on disk: generations under one live pointer, FAISS vectors, the BM25 keyword index.

`generations` writes and verifies index directories, `backends` names the vector stores
(FAISS, the default; Milvus), `vectors` holds all FAISS code (and the VectorStore view qa
searches through), `milvus` all Milvus code, `keyword` the BM25 index. The names below are
the store's public API.
"""

from index.files import writer_lock
from index.store.backends import HybridSearcher, hybrid_searcher
from index.store.generations import (
    CURRENT,
    MANIFEST,
    LoadedIndex,
    StoredChunk,
    check_model,
    index_exists,
    keep_derived,
    live_generation,
    load_index,
    read_derived,
    read_manifest,
    update_settings,
    write_generation,
    write_index,
)
from index.store.vectors import FaissVectors, VectorStore

__all__ = [
    "CURRENT",
    "MANIFEST",
    "FaissVectors",
    "HybridSearcher",
    "LoadedIndex",
    "StoredChunk",
    "VectorStore",
    "check_model",
    "hybrid_searcher",
    "index_exists",
    "keep_derived",
    "live_generation",
    "load_index",
    "read_derived",
    "read_manifest",
    "update_settings",
    "write_generation",
    "write_index",
    "writer_lock",
]
