"""Leases: how a running server keeps the generations it reads from being deleted.

A reader (a server) writes `ROOT/leases/<pid>-<random>.json` naming the generations it has
loaded or is loading, refreshes it every `REFRESH_SECONDS`, and deletes it on exit. A writer,
when it drops superseded generations, keeps every generation named by a live lease. A lease is
stale, and is ignored and deleted by the next writer, when its process is gone (same host) or
when it was not refreshed for `STALE_SECONDS` (a crashed server on another host, or a frozen one).

    ROOT/leases/1234-9f3a2c.json   {"pid": 1234, "host": "web1", "generations": ["gen-…"],
                                    "started": "…", "refreshed": "…"}
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from index.files import json_text, write_text_atomic

LEASES = "leases"
REFRESH_SECONDS = 30.0
STALE_SECONDS = 300.0  # ten missed refreshes


class Lease:
    """One reader's lease on the generations it uses; `hold` replaces the list, `release` ends it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LEASES / f"{os.getpid()}-{secrets.token_hex(3)}.json"
        self.generations: tuple[str, ...] = ()
        self.started = _utc()
        self.refreshed = 0.0
        self._lock = threading.Lock()

    def hold(self, generations: Iterable[str]) -> None:
        """Name exactly `generations` (written at once, so a writer sees them before they are read)."""
        with self._lock:
            self.generations = tuple(dict.fromkeys(g for g in generations if g))
            self._write()

    def refresh(self, every: float = REFRESH_SECONDS) -> None:
        """Rewrite the lease when it is older than `every` seconds (also restores a deleted one)."""
        with self._lock:
            if self.generations and (time.monotonic() - self.refreshed >= every or not self.path.exists()):
                self._write()

    def release(self) -> None:
        """Delete the lease: the generations it named may now be dropped by the next writer."""
        with self._lock:
            self.generations = ()
            self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "generations": list(self.generations),
            "started": self.started,
            "refreshed": _utc(),
        }
        write_text_atomic(self.path, json_text(data))
        self.refreshed = time.monotonic()


def leased_generations(root: Path, stale_seconds: float = STALE_SECONDS, prune: bool = False) -> set[str]:
    """The generations named by the live leases of the index at `root`.

    With `prune` (a writer holding the lock), stale lease files are deleted as they are found.
    """
    folder = root / LEASES
    if not folder.is_dir():
        return set()
    names: set[str] = set()
    for path in folder.glob("*.json"):
        data = _read(path)
        if data is None or is_stale(path, data, stale_seconds):
            if prune:
                path.unlink(missing_ok=True)
            continue
        names.update(str(g) for g in data.get("generations", []) if isinstance(g, str))
    return names


def is_stale(path: Path, data: dict[str, Any], stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether a lease no longer protects anything: its process is gone, or it was not refreshed."""
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return True
    if age > stale_seconds:
        return True
    if data.get("host") == socket.gethostname() and isinstance(data.get("pid"), int):
        return not _alive(data["pid"])
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _read(path: Path) -> dict[str, Any] | None:
    """A lease's JSON (None if it cannot be read: it is then treated as stale)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = ["LEASES", "REFRESH_SECONDS", "STALE_SECONDS", "Lease", "is_stale", "leased_generations"]
