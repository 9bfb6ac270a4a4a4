"""Live index updates: notice a new generation of the served index and switch to it.

A `GenerationWatcher` thread looks at `INDEX/CURRENT` once a `poll_seconds` (one `stat`; the
file is only read when its inode, size or time changed, which every atomic swap does). A new
generation is loaded beside the one being served and handed to `swap` whole; a generation that
fails to load (checksum, model mismatch, bad manifest) is refused with one logged reason and the
old one keeps serving. A lease (index.store.leases) names the generations in use, so writers
never delete them.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.store import CURRENT
from index.store.leases import Lease

log = logging.getLogger("wenda.ui.live")
POLL_SECONDS = 1.0
RELEASE_SECONDS = 30.0  # how long to help the old generation's memory back to the system


@dataclass(frozen=True)
class Refusal:
    """A generation that could not be loaded, why, and when."""

    generation: str
    reason: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class GenerationWatcher:
    """Polls CURRENT of the index at `root` and loads every new generation on its own thread.

    Args:
        root: the index directory.
        serving: the generation being served now.
        load: loads a generation by name (raising any error to refuse it).
        swap: installs a loaded bot (the service's reference is replaced in one assignment).
        lease: the server's lease on the index, held for `serving` (and a generation being loaded).
    """

    def __init__(
        self,
        root: Path,
        serving: str,
        load: Callable[[str], Any],
        swap: Callable[[Any], Any],
        lease: Lease | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.root = root
        self.serving = serving
        self.refused: Refusal | None = None
        self.poll_seconds = poll_seconds
        self._load, self._swap = load, swap
        self._lease = lease
        self._seen = _signature(root / CURRENT)
        self._lock = threading.Lock()  # one switch at a time (the thread, or an admin write waiting for it)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wenda-index-watch", daemon=True)
        self._hold([serving])

    def start(self) -> GenerationWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and release the lease."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)
        if self._lease is not None:
            self._lease.release()

    def poll(self) -> str:
        """Switch now if CURRENT names another generation; return the generation served after it."""
        with self._lock:
            signature = _signature(self.root / CURRENT)
            if signature != self._seen:
                self._seen = signature
                name = _current_name(self.root)
                if name and name != self.serving:
                    self._switch(name)
            return self.serving

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
                if self._lease is not None:
                    self._lease.refresh()
            except Exception:  # the watcher must outlive any surprise; the next poll tries again
                log.exception("watching %s failed", self.root)

    def _switch(self, name: str) -> None:
        self._hold([self.serving, name])
        started = time.perf_counter()
        try:
            bot = self._load(name)
        except Exception as exc:  # noqa: BLE001 - whatever fails to load is refused, never served
            reason = " ".join(str(exc).split()) or type(exc).__name__
            log.warning(
                "refused index generation %s (%s: %s); still serving %s",
                name,
                type(exc).__name__,
                reason,
                self.serving,
            )
            # shown after it is logged: whoever sees the refusal in health() finds it in the log
            self.refused = Refusal(name, reason, _utc())
            self._hold([self.serving])
            return
        old = self._swap(bot)
        counts = bot.index.manifest["counts"]
        log.info(
            "now serving index generation %s (%d articles, %d chunks; loaded in %.1f s)",
            name,
            counts["articles"],
            counts["chunks"],
            time.perf_counter() - started,
        )
        self.serving = name
        self.refused = None  # superseded: health shows refusals since the generation served
        self._hold([name])
        try:
            gone = weakref.ref(old) if old is not None else None
        except TypeError:  # an object without weak references: nothing to watch
            gone = None
        del old, bot
        if gone is not None:  # on another thread: the next poll must not wait for questions in flight
            threading.Thread(
                target=release_memory, args=(gone, self._stop), name="wenda-release", daemon=True
            ).start()

    def _hold(self, names: list[str]) -> None:
        if self._lease is None:
            return
        try:
            self._lease.hold(names)
        except OSError as exc:  # a read-only index: serve on, but writers cannot see this server
            log.warning(
                "cannot write the lease %s (%s); index writers may delete generations in use",
                self._lease.path,
                exc,
            )
            self._lease = None


class RememberingEmbedder:
    """An embedder that remembers the vectors of large query batches.

    Loading a bot embeds the abstention rule's background questions in one batch (qa.abstain);
    with the same model their vectors never change, so a new generation loads without that
    model call. Questions (a few texts per call) pass straight through.
    """

    def __init__(self, inner: Any, min_batch: int = 16) -> None:
        self.inner = inner
        self.min_batch = min_batch
        self._memo: dict[tuple[str, ...], np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:  # model_id, fingerprint, dimension, prompts, …
        return getattr(self.inner, name)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) < self.min_batch:
            return self.inner.embed_queries(texts)
        key = tuple(texts)
        if key not in self._memo:
            self._memo = {key: np.asarray(self.inner.embed_queries(texts))}  # one batch is all it holds
        return self._memo[key].copy()

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self.inner.embed_passages(texts, progress=progress)


def release_memory(
    old: weakref.ref, stop: threading.Event | None = None, seconds: float = RELEASE_SECONDS
) -> bool:
    """Wait (up to `seconds`) until the object behind `old` is gone, collecting cycles, then hand
    freed heap back to the system (glibc keeps it otherwise); return whether it was freed.

    Questions in flight keep the old bot until they finish, so this polls instead of forcing anything.
    """
    deadline = time.monotonic() + seconds
    waiter = stop or threading.Event()
    while True:
        gc.collect()  # a full collection takes a while on a big heap: every 2 s at most
        if old() is None or time.monotonic() >= deadline or waiter.wait(2.0):
            break
    _malloc_trim()
    return old() is None


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What changes whenever CURRENT is replaced (inode, size, modification time), without reading it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _current_name(root: Path) -> str | None:
    try:
        return (root / CURRENT).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _utc() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = ["POLL_SECONDS", "GenerationWatcher", "Refusal", "RememberingEmbedder", "release_memory"]
