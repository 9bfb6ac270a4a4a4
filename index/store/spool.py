"""Vectors on disk while a build runs: the durable embedding cache and the chunk-order spool.

`EmbedCache` is what makes a killed build resumable: every batch of vectors the model
returns is appended, with the embed hashes of its texts, to two files under
`ROOT/.embed-cache/` and flushed to disk (fsync) before the next batch starts. The same
command run again finds them there and embeds only what no finished batch held. The cache
is per model (its fingerprint and dimension name the files) and is deleted once a
generation holding its vectors is live.

`VectorSpool` holds a generation's vectors in chunk order in a scratch file beside the
generations (`.staging-vectors-…`, removed by the next writer if a build dies), so that no
array of every vector is ever held in memory: the FAISS index is filled from it batch by
batch.

`record_spool` makes the scratch records file (index.store.records.RecordSpool) a build
writes its article and chunk records into as it makes them; the generation takes it whole.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index.errors import DiskFullError, IndexWriteError, one_line
from index.files import is_disk_full
from index.store.records import RecordSpool

CACHE_DIR = ".embed-cache"


@contextmanager
def scratch_write(root: Path, what: str) -> Iterator[None]:
    """Turn an OSError while writing a build's scratch files into the named write errors
    (DiskFullError when the disk is full); nothing live has been touched yet."""
    try:
        yield
    except IndexWriteError:
        raise
    except OSError as exc:
        where = f"{what} of index {str(root)!r}"
        if is_disk_full(exc, root):
            raise DiskFullError(
                f"disk full while writing {where}: free space and retry (the previous index is unchanged)"
            ) from exc
        reason = exc.strerror or one_line(exc)
        raise IndexWriteError(f"could not write {where} ({reason}); the previous index is unchanged") from exc


def record_spool(root: Path) -> RecordSpool:
    """A RecordSpool in a scratch file `root/.staging-records-…` (removed by the next writer
    if this one dies), on the index's file system so that the generation can take it whole."""
    with scratch_write(root, "the record scratch file"):
        root.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".staging-records-", suffix=".sqlite", dir=root)
        os.close(handle)
        try:
            return RecordSpool(Path(name))
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise


class EmbedCache:
    """Vectors by embed hash, appended batch by batch and fsync'd (see the module docstring)."""

    def __init__(self, root: Path, fingerprint: str, dimension: int) -> None:
        folder = root / CACHE_DIR  # made by the first append
        name = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', fingerprint)[:80]}-{dimension}"
        self.vectors_path, self.hashes_path = folder / f"{name}.f32", folder / f"{name}.hashes"
        self.dimension = dimension
        self.rows: dict[str, int] = {}
        self._recover()

    def _recover(self) -> None:
        """Keep the complete batches a killed writer left: as many rows as both files hold whole."""
        if not self.hashes_path.exists():
            return
        row_bytes = 4 * self.dimension
        text = self.hashes_path.read_text(encoding="ascii")
        digests = text.split("\n")[:-1]  # a line without its newline was cut off
        size = self.vectors_path.stat().st_size if self.vectors_path.exists() else 0
        count = min(len(digests), size // row_bytes)
        with open(self.vectors_path, "ab") as vectors:
            vectors.truncate(count * row_bytes)
        self.hashes_path.write_text("".join(d + "\n" for d in digests[:count]), encoding="ascii")
        self.rows = {d: i for i, d in enumerate(digests[:count])}

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, digest: str) -> bool:
        return digest in self.rows

    def append(self, digests: Sequence[str], vectors: np.ndarray) -> None:
        """Add one batch durably: the vectors first, then their hashes (a hash names a whole row)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(digests), self.dimension):
            raise ValueError(f"{len(digests)} hashes but vectors of shape {vectors.shape}")
        with scratch_write(self.vectors_path.parent.parent, "the embedding cache"):
            self.vectors_path.parent.mkdir(parents=True, exist_ok=True)
            _append_synced(self.vectors_path, vectors.tobytes())
            _append_synced(self.hashes_path, "".join(d + "\n" for d in digests).encode("ascii"))
        for digest in digests:
            self.rows.setdefault(digest, len(self.rows))

    def read(self, digests: Sequence[str]) -> np.ndarray:
        """The cached vectors of `digests`, one row each."""
        if not digests:
            return np.zeros((0, self.dimension), dtype=np.float32)
        count = os.path.getsize(self.vectors_path) // (4 * self.dimension)
        stored = np.memmap(self.vectors_path, dtype=np.float32, mode="r", shape=(count, self.dimension))
        rows = np.array(stored[[self.rows[d] for d in digests]])
        del stored
        return rows

    def clear(self) -> None:
        """Delete the cache (its vectors are in a live generation now)."""
        self.vectors_path.unlink(missing_ok=True)
        self.hashes_path.unlink(missing_ok=True)
        self.rows = {}
        try:
            self.vectors_path.parent.rmdir()
        except OSError:
            pass  # another model's cache is still there


def _append_synced(path: Path, data: bytes) -> None:
    with open(path, "ab") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


class VectorSpool:
    """Float32 rows in a scratch file, appended in order and read back in slices.

    It looks enough like a 2-D array for the writers: `len`, `shape`, `ndim`, `dtype`,
    slicing (`spool[a:b]` reads those rows) and `np.asarray(spool)` (reads them all).
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, directory: Path, dimension: int) -> None:
        self.directory = directory
        with scratch_write(directory, "the vector scratch file"):
            directory.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=".staging-vectors-", dir=directory)
            os.close(handle)
            self.path, self.dimension, self.rows = Path(name), dimension, 0
            self._out = open(self.path, "ab")  # noqa: SIM115 - closed by close()

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.dimension)

    def __len__(self) -> int:
        return self.rows

    def append(self, vectors: np.ndarray) -> None:
        """Add rows at the end."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        with scratch_write(self.directory, "the vector scratch file"):
            self._out.write(vectors.tobytes())
        self.rows += len(vectors)

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("a VectorSpool is read by contiguous slices")
        start, stop, _ = rows.indices(self.rows)
        count = max(0, stop - start)
        with scratch_write(self.directory, "the vector scratch file"):
            self._out.flush()
        with open(self.path, "rb") as source:
            source.seek(start * 4 * self.dimension)
            data = np.fromfile(source, dtype=np.float32, count=count * self.dimension)
        return data.reshape(count, self.dimension)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[0 : self.rows]
        return whole if dtype is None else whole.astype(dtype)

    def close(self) -> None:
        """Delete the scratch file."""
        self._out.close()
        self.path.unlink(missing_ok=True)
