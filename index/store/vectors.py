"""FAISS, and nothing else: the vector index of a generation, and the VectorStore view of it.

Only this module imports faiss. The builders make, fill, update and save FAISS indexes
through it; qa searches through `VectorStore` (`LoadedIndex.vectors`), never through faiss.
The ids of every index are the chunks' `vid`s: an `IndexIDMap2` over exact inner-product
search (flat), an HNSW graph, or an HNSW graph over 8-bit codes (hnswsq8); or an IVF index
over 8-bit codes (ivfsq8) that keeps the ids itself, with a hash table from id to entry, so
that it can remove and reconstruct by vid (see `faiss_kind`). Indexes are filled batch by
batch from whatever holds the vectors (an array or an index.store.spool.VectorSpool).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from index.settings import StoreSettings

FAISS_TYPES = ("flat", "hnsw", "hnswsq8", "ivfsq8")
ADD_ROWS = 65_536  # vectors added to an index at a time
TRAIN_ROWS = 100_000  # at most this many vectors train the 8-bit codes and the IVF centroids
VECTORS = "vectors.faiss"  # the FAISS file of a generation
# Flat codes (IndexFlat, and the vectors under an HNSW graph) mapped from the file, read-only:
# plain IO_FLAG_MMAP still copies them into memory with faiss-cpu 1.15 (bench/RESULTS.md).
MMAP_FLAGS = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
# A mapped FAISS file no bigger than this share of the memory available is read into the page
# cache in the background as it is opened (`warm_page_cache`): searches read inverted lists or
# graph neighbours at random, and until the file is cached each would wait on reads from disk.
WARM_SHARE = 0.25
_WARM_STEP = 8 << 20  # bytes asked of the kernel at a time (one WILLNEED reads at most this much)

log = logging.getLogger("wenda.index")


class Rows(Protocol):
    """Vectors a writer reads a slice at a time: an array, or index.store.spool.VectorSpool."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def ndim(self) -> int: ...

    def __len__(self) -> int: ...

    def __getitem__(self, rows: slice, /) -> Any: ...


class VectorStore(Protocol):
    """The stored chunk vectors, searched by inner product (cosine: vectors are normalised)."""

    @property
    def ntotal(self) -> int:
        """How many vectors are stored."""
        ...

    @property
    def dimension(self) -> int:
        """The size of each vector."""
        ...

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids (vids) and scores of the `k` nearest vectors to one query vector, best first."""
        ...

    def reconstruct(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of `ids`, one float32 row each."""
        ...


class _FaissSizes:
    """The counts every holder of a FAISS index (`self.index`) reports."""

    index: Any

    @property
    def ntotal(self) -> int:
        """How many vectors are stored."""
        return int(self.index.ntotal)

    @property
    def dimension(self) -> int:
        """The size of each vector."""
        return int(self.index.d)


class FaissVectors(_FaissSizes):
    """A VectorStore over a FAISS ID-mapped index (`mapped`: read from its file by memory
    mapping, so it must not be changed: FAISS aborts the process on a resize)."""

    def __init__(self, index: Any, mapped: bool = False) -> None:
        self.index = index
        self.mapped = mapped

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids and scores of the `k` nearest vectors (fewer when fewer are stored), best first."""
        k = min(k, self.ntotal)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, ids = self.index.search(vector.reshape(1, -1).astype(np.float32), k)
        found = ids[0] >= 0
        return ids[0][found], scores[0][found]

    def reconstruct(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of `ids`, one float32 row each."""
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.index.reconstruct(int(i)) for i in ids])


class FaissWriter(_FaissSizes):
    """The vectors of a generation being written: a FAISS index, saved as the generation's file."""

    def __init__(self, index: Any, info: Mapping[str, Any]) -> None:
        self.index, self.info = index, dict(info)

    def manifest(self) -> dict[str, Any]:
        """The manifest's entries for the vectors: `store` (the backend) and `faiss` (the index)."""
        return {"store": {"backend": "faiss"}, "faiss": dict(self.info)}

    def files(self) -> dict[str, Callable[[Path], None]]:
        """The generation's FAISS file."""
        return {VECTORS: lambda path: write_faiss(self.index, path)}

    def publish(self, kept: Sequence[Mapping[str, Any]]) -> None:
        """Nothing to do once the generation is live: the file is all there is."""


def search_on_one_thread() -> None:
    """Make FAISS search on one thread (a process that answers one question at a time).

    FAISS's OpenMP threads only slow a single query down: exact search over 100k vectors
    takes 7.4 ms on one thread against 15.5 ms on two (bench/scale.py), and idle OpenMP
    threads compete with the embedding model's (HNSW searches one query on one thread anyway).
    """
    faiss.omp_set_num_threads(1)


def faiss_kind(count: int, settings: StoreSettings) -> str:
    """The FAISS index type for `count` chunks: the forced one, or by size when `auto`."""
    if settings.index_type != "auto":
        return settings.index_type
    if count >= settings.ivf_threshold:
        return "ivfsq8"
    return "hnsw" if count >= settings.hnsw_threshold else "flat"


def ivf_lists(count: int, settings: StoreSettings) -> int:
    """IVF lists for `count` vectors: the setting, else 4 x sqrt(count); at least 1, and at
    most one a 39 training vectors (FAISS's minimum for k-means)."""
    wanted = settings.ivf_nlist or int(4 * count**0.5)
    return max(1, min(wanted, min(count, TRAIN_ROWS) // 39))


def make_faiss_index(
    dimension: int, count: int, settings: StoreSettings, kind: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """An empty FAISS index of the type the settings and corpus size call for, with its
    description (the 8-bit and IVF types still need `train_faiss`)."""
    kind = kind or faiss_kind(count, settings)
    inner: Any
    info: dict[str, Any] = {"type": kind, "metric": "inner_product"}
    ip = faiss.METRIC_INNER_PRODUCT
    if kind == "flat":
        inner = faiss.IndexFlatIP(dimension)
    elif kind in ("hnsw", "hnswsq8"):
        if kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dimension, settings.hnsw_m, ip)
        else:
            eight_bits = faiss.ScalarQuantizer.QT_8bit
            inner = faiss.IndexHNSWSQ(dimension, eight_bits, settings.hnsw_m, ip)  # type: ignore[arg-type]
        inner.hnsw.efConstruction = settings.hnsw_ef_construction
        inner.hnsw.efSearch = settings.hnsw_ef_search
        info |= {
            "m": settings.hnsw_m,
            "ef_construction": settings.hnsw_ef_construction,
            "ef_search": settings.hnsw_ef_search,
        }
    elif kind == "ivfsq8":
        nlist = ivf_lists(count, settings)
        quantizer = faiss.IndexFlatIP(dimension)  # faiss's Python keeps it alive with the index
        inner = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit, ip)
        inner.nprobe = settings.ivf_nprobe
        # remove and reconstruct by vid (the stubs lack DirectMap)
        inner.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        info |= {"nlist": nlist, "nprobe": settings.ivf_nprobe}
    else:
        raise ValueError(f"FAISS index type {kind!r} is unknown; valid: {FAISS_TYPES}")
    info["threshold"] = settings.hnsw_threshold
    info["ivf_threshold"] = settings.ivf_threshold
    info["chosen"] = "forced" if settings.index_type != "auto" else "auto"
    return (inner if kind == "ivfsq8" else faiss.IndexIDMap2(inner)), info


def train_faiss(index: Any, vectors: Rows, seed: int = 0) -> None:
    """Train an index that needs it (8-bit codes, IVF centroids) on at most TRAIN_ROWS of
    `vectors`, drawn evenly and deterministically (a resumed build trains as an uninterrupted one).

    `vectors` is read one slice at a time, so a spool on disk is never loaded whole.
    """
    if index.is_trained or len(vectors) == 0:
        return
    rng = np.random.default_rng(seed)
    wanted = np.sort(rng.choice(len(vectors), size=min(len(vectors), TRAIN_ROWS), replace=False))
    parts = []
    for start in range(0, len(vectors), ADD_ROWS):
        rows = wanted[(wanted >= start) & (wanted < start + ADD_ROWS)] - start
        if len(rows):
            parts.append(np.asarray(vectors[start : start + ADD_ROWS])[rows])
    index.train(np.ascontiguousarray(np.concatenate(parts), dtype=np.float32))


def build_faiss(
    vectors: Rows, ids: Sequence[int], settings: StoreSettings, dimension: int, kind: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """A FAISS index holding `vectors` under `ids`, of the type the settings call for, with its description.

    `vectors` is an array or anything sliced like one (index.store.spool.VectorSpool); it is
    added ADD_ROWS at a time.
    """
    index, info = make_faiss_index(dimension, len(vectors), settings, kind)
    train_faiss(index, vectors)
    vids = np.asarray(ids, dtype=np.int64)
    for start in range(0, len(vectors), ADD_ROWS):
        batch = np.ascontiguousarray(vectors[start : start + ADD_ROWS], dtype=np.float32)
        index.add_with_ids(batch, vids[start : start + len(batch)])
    return index, info


def supports_removal(faiss_index: Any) -> bool:
    """True when vectors can be removed in place (flat, IVF); HNSW graphs cannot drop a node."""
    inner = faiss.downcast_index(faiss_index.index) if hasattr(faiss_index, "index") else faiss_index
    return isinstance(faiss.downcast_index(inner), faiss.IndexFlat | faiss.IndexIVF)


def update_faiss(
    index: Any,
    info: Mapping[str, Any],
    old_vids: Sequence[int],
    vids: Sequence[int],
    new_ids: Sequence[int],
    new_vectors: np.ndarray,
    settings: StoreSettings,
) -> tuple[Any, dict[str, Any], str]:
    """The FAISS index for chunks `vids` (in order), from `index` (holding `old_vids`, described
    by `info`) and the vectors of the chunks with new ids, `new_ids`.

    The index is updated in place (it is the in-memory copy; the live files stay as they
    are) when it keeps its type and can drop what is gone; else it is rebuilt from the stored
    vectors (reconstructed, never re-embedded). Returns the index, its description and what
    was done, in words.
    """
    keep = set(vids)
    gone = np.asarray(sorted(v for v in old_vids if v not in keep), dtype=np.int64)
    added = np.asarray(new_ids, dtype=np.int64)
    kind = faiss_kind(len(vids), settings)
    same_kind = info["type"] == kind
    if same_kind and (len(gone) == 0 or supports_removal(index)):
        if len(gone):
            index.remove_ids(gone)
        if len(added):
            index.add_with_ids(np.ascontiguousarray(new_vectors), added)
        return index, dict(info), "updated in place"
    fresh_rows = {vid: row for row, vid in enumerate(added.tolist())}
    rows = [new_vectors[fresh_rows[v]] if v in fresh_rows else index.reconstruct(v) for v in vids]
    vectors = np.stack(rows) if rows else np.zeros((0, int(index.d)), dtype=np.float32)
    rebuilt, new_info = build_faiss(vectors, vids, settings, int(index.d), kind)
    reason = "type changed with size" if not same_kind else "HNSW cannot remove vectors"
    # note: the rebuild holds every vector once in memory (reconstructed; 8-bit codes decode
    # to within 1/255 of each dimension's range)
    return rebuilt, new_info, f"rebuilt from stored vectors ({reason}; nothing re-embedded)"


def stored_ids(index: Any) -> np.ndarray | None:
    """The ids held by an ID-mapped or IVF index, as int64 (None for an index without ids)."""
    if hasattr(index, "id_map"):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None or ivf.invlists is None:
        return None
    lists = ivf.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).astype(np.int64)
        for number in range(lists.nlist)
        if lists.list_size(number)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def read_faiss(path: Path) -> Any:
    """Read a native FAISS file into memory (raises RuntimeError when it is damaged)."""
    return faiss.read_index(str(path))


def map_faiss(path: Path, warm: bool = False) -> tuple[Any, bool]:
    """Open a native FAISS file for searching, memory-mapped where FAISS can map it; return
    the index and whether it is mapped. With `warm` (a server's load), a mapped file is read
    into the page cache in the background (`warm_page_cache`).

    Mapped, the vectors stay in the page cache (shared, dropped under memory pressure) and
    only the pages a search touches are read; the id map and an HNSW graph's links are still
    read into memory. A type FAISS cannot map is read whole, with the reason logged.

    Raises:
        RuntimeError: the file is damaged.
    """
    try:
        index = faiss.read_index(str(path), MMAP_FLAGS)
    except RuntimeError as exc:
        log.info(
            "FAISS file %s read into memory: it cannot be memory-mapped (%s)", path.name, _last_line(exc)
        )
        return read_faiss(path), False
    if warm:
        warm_page_cache(path)
    return index, True


def warm_page_cache(path: Path, share: float | None = None) -> threading.Thread | None:
    """Have the kernel read a file into the page cache, in a background thread, when it and
    the other files this process warmed (those that still exist) are together no bigger than
    `share` (WARM_SHARE) of the memory available; return the thread (None when not warmed).
    Files are warmed in the order they are asked for: the index's FAISS file, its records,
    then the keyword arrays.

    The pages go to the page cache, not to this process: they are clean, shared and dropped
    under memory pressure like any cached file, and become part of the process's RSS only as
    searches touch them. (Lucene's MMapDirectory preload and Milvus's collection load do the
    same for their indexes.) At 10M IVF-SQ8 vectors, 3.9 GB, it takes about 2 s of this disk.
    """
    if not hasattr(os, "posix_fadvise"):  # Linux and most Unixes have it; macOS does not
        return None
    size = path.stat().st_size
    available = _memory_available()
    key = str(path.resolve())
    with _warmed_lock:
        for other in [p for p in _warmed if not os.path.exists(p)]:  # a generation deleted since
            del _warmed[other]
        others = sum(n for p, n in _warmed.items() if p != key)
        if available is None or others + size > (WARM_SHARE if share is None else share) * available:
            return None
        _warmed[key] = size
    thread = threading.Thread(target=_read_ahead, args=(path, size), name="warm-page-cache", daemon=True)
    thread.start()
    return thread


# The files this process has warmed (resolved path: bytes), which share WARM_SHARE
_warmed: dict[str, int] = {}
_warmed_lock = threading.Lock()


def _read_ahead(path: Path, size: int) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # a file replaced or removed meanwhile is the loader's business, not this thread's
    try:
        for offset in range(0, size, _WARM_STEP):
            os.posix_fadvise(fd, offset, _WARM_STEP, os.POSIX_FADV_WILLNEED)
    except OSError as exc:
        log.info("could not warm the page cache with %s: %s", path.name, exc)
    finally:
        os.close(fd)


def _memory_available() -> int | None:
    """Bytes of memory available for new work (Linux's MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _last_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__


def write_faiss(index: Any, path: Path) -> None:
    """Write a native FAISS file.

    Raises:
        OSError: the file could not be written (ENOSPC when the disk is full); FAISS itself
            raises a RuntimeError with a C++ assertion in it.
    """
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:
        message = str(exc)
        full = "No space left" in message or "Disk quota" in message or _no_space(path.parent)
        detail = message.rsplit(": ", 1)[-1].strip() or "write error"
        raise OSError(
            errno.ENOSPC if full else errno.EIO, f"FAISS could not write it ({detail})", str(path)
        ) from exc


def _no_space(directory: Path) -> bool:
    try:
        return shutil.disk_usage(directory).free < (1 << 20)
    except OSError:
        return False
