"""File utilities shared by the store, the embedding backends and the builders.

Plain JSON and JSON lines, SHA-256 checksums, fsync, atomic replacement of a file or of a
whole directory, the index writer's lock, and the one progress `log` line. Whatever is
written for others to read appears in one rename, so a crash never exposes half a file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from index.errors import IndexLockedError

LOCK = ".lock"  # the index writer's lock file, inside the index directory


def log(progress: bool, message: str) -> None:
    """Print a progress line on stderr when `progress` is on."""
    if progress:
        print(message, file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_text(data: Any) -> str:
    """Indented JSON with Chinese kept readable, and a final newline."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def write_json(path: Path, data: Any, *, atomic: bool = False) -> None:
    """Write `data` as indented JSON; `atomic` replaces the file in one rename."""
    if atomic:
        write_text_atomic(path, json_text(data))
    else:
        path.write_text(json_text(data), encoding="utf-8")


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write one compact JSON object per line."""
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read the objects of a JSON-lines file (blank lines skipped)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename: readers see the old file or the new one, whole.

    The temporary file is `.NAME.<random>` beside it (a killed writer may leave one behind).
    """
    tmp = path.with_name(f".{path.name.lstrip('.')}.{secrets.token_hex(3)}")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_tree(directory: Path) -> None:
    """Flush every file and the directory itself, so a rename never exposes unwritten data."""
    for path in directory.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (a rename inside it) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_dir(source: Path, target: Path) -> None:
    """Move directory `source` to `target`, replacing an older `target` (parked, then deleted)."""
    old = None
    if target.exists():  # os.replace cannot overwrite a non-empty directory
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(3)}")
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_dir(target: Path, *, sync: bool = False) -> Iterator[Path]:
    """Build a directory beside `target` and swap it in only when it is complete.

    Yields a new scratch directory `.staging-NAME-<random>` beside `target` (same file
    system); the block builds the new directory at `scratch / target.name` (and may use the
    rest of the scratch as it likes). When the block succeeds, that directory replaces
    `target` in one rename (flushed to disk first when `sync`); whatever happens, the scratch
    is then deleted. A crash leaves at most the scratch, never a half-written `target`.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".staging-{target.name}-", dir=target.parent))
    try:
        yield scratch
        built = scratch / target.name
        if sync:
            fsync_tree(built)
        replace_dir(built, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_once(target: Path, is_done: Callable[[Path], bool], build: Callable[[], object]) -> Path:
    """Return `target`, calling `build` first unless `is_done(target)`.

    Builds run under a file lock beside `target`: a second process waits for the first and
    then finds the work done.
    """
    if is_done(target):
        return target
    with FileLock(str(target) + ".lock"):
        if not is_done(target):
            build()
    return target


def is_disk_full(exc: OSError, directory: Path) -> bool:
    """True when `exc` says the disk (or the quota) is full.

    Besides ENOSPC and EDQUOT, a short write with no errno (numpy's "13591 requested and
    2016 written") counts when `directory`'s file system has no space left.
    """
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if exc.errno is None and "written" in str(exc):
        try:
            return shutil.disk_usage(directory).free < (1 << 20)
        except OSError:
            return False
    return False


def lock_time(root: Path) -> float:
    """When the index writer's lock was last taken (its file's mtime; the epoch when there is none)."""
    try:
        return (root / LOCK).stat().st_mtime
    except OSError:
        return 0.0


def writer_lock(root: Path, timeout: float = 0.0) -> FileLock:
    """The lock an index writer must hold; acquiring raises IndexLockedError if another writer has it."""
    root.mkdir(parents=True, exist_ok=True)
    return _RefusingLock(str(root / LOCK), timeout=timeout)


class _RefusingLock(FileLock):
    """A FileLock that raises IndexLockedError instead of filelock.Timeout."""

    def acquire(self, *args: Any, **kwargs: Any):
        first = not self.is_locked
        try:
            proxy = super().acquire(*args, **kwargs)
        except Timeout as exc:
            raise IndexLockedError(
                f"index {str(Path(self.lock_file).parent)!r} is being written by another process; "
                "wait for it to finish and try again"
            ) from exc
        if first:
            os.utime(
                self.lock_file
            )  # marks when this writer started (see index.store.generations.remove_stale)
        return proxy
