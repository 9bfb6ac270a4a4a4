"""The bot as a service for the UI: loaded in the background, asked without tracebacks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from index.embed import Embedder, make_embedder
from index.errors import WendaError
from index.settings import EmbedSettings, IndexSettings
from index.store import read_manifest
from qa import Bot, load_bot
from ui.batching import BatchingEmbedder

log = logging.getLogger("wenda.ui")
DEFAULT_MAX_QUESTION_CHARS = 1000  # the index setting's default, until the index is loaded
MAX_SECTION_CHARS = 4000  # a section longer than this is shown around its passage


def load_batched_bot(
    index_dir: Path | None = None, embedder_for: Callable[[EmbedSettings], Embedder] = make_embedder
) -> Bot:
    """The bot over `index_dir` (the sample index when None), its query embedder batched: concurrent
    questions share one model call, so 16 waiting questions cost one forward pass of batch 16
    instead of 16 passes fighting for the cores (bench/serve.py).

    `embedder_for` makes the embedder from the index's embedding settings (make_embedder).
    """
    if index_dir is None:
        from index.sample import ensure_sample_index

        index_dir = ensure_sample_index()
    settings = IndexSettings.from_dict(read_manifest(index_dir)["settings"])
    return load_bot(index_dir, embedder=BatchingEmbedder(embedder_for(settings.embed)))


class NotReadyError(WendaError, RuntimeError):
    """The index is still loading (or failed to load)."""


class BotService:
    """Holds one Bot, loads it on a background thread, and turns failures into messages."""

    def __init__(
        self, index_dir: Path | None = None, loader: Callable[[], Bot] | None = None, max_concurrent: int = 16
    ) -> None:
        self.index_dir = index_dir
        self._loader = loader or (lambda: load_batched_bot(index_dir))
        self._bot: Bot | None = None
        self._error: str | None = None
        self._ready = threading.Event()
        # the REST API runs in a thread pool: cap it like the chat's queue (the `concurrency` setting)
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def start(self, background: bool = True) -> BotService:
        """Begin loading the bot; with background=False, wait for it."""
        if background:
            threading.Thread(target=self._load, name="wenda-load", daemon=True).start()
        else:
            self._load()
        return self

    def _load(self) -> None:
        try:
            self._bot = self._loader()
        except Exception as exc:  # shown to users as a status, never as a traceback
            log.exception("loading the index failed")
            self._error = f"索引加载失败：{exc}"
        finally:
            self._ready.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until loading has finished (successfully or not)."""
        return self._ready.wait(timeout)

    @property
    def bot(self) -> Bot:
        """The loaded bot; raises NotReadyError while loading or after a failed load."""
        if self._bot is not None:
            return self._bot
        raise NotReadyError(self._error or "索引正在加载，请稍候再试。(The index is still loading.)")

    def ask(self, question: str, top_k: int = 5, history: Sequence[str] | None = None) -> dict[str, Any]:
        """Answer as a dict; raises QuestionError or NotReadyError with a user-facing message."""
        bot = self.bot
        with self._slots:
            return bot.ask(question, top_k=top_k, history=list(history or [])).to_dict()

    @property
    def failed(self) -> bool:
        """Whether loading the index failed (as opposed to still going on)."""
        return self._error is not None

    @property
    def max_question_chars(self) -> int:
        """The longest question the index accepts (its settings once loaded, else the default)."""
        settings = getattr(self._bot, "settings", None)
        return int(getattr(settings, "max_question_chars", DEFAULT_MAX_QUESTION_CHARS))

    def section(self, article_id: str, start: int, end: int) -> dict[str, Any]:
        """The section of an article that holds the passage at `start:end`, for "展开所在小节".

        Raises KeyError for an unknown article or offsets outside it; NotReadyError while loading.
        """
        article = self.bot.index.articles[article_id]
        if not 0 <= start < end <= len(article.text):
            raise KeyError(f"offsets {start}:{end} are outside article {article_id!r}")
        found = article.section_at(start)
        lo, hi = (found.start, found.end) if found else (0, len(article.text))
        lo, hi = min(lo, start), max(hi, end)
        if hi - lo > MAX_SECTION_CHARS:  # a very long section: the passage with context around it
            room = max(0, MAX_SECTION_CHARS - (end - start)) // 2
            lo, hi = max(lo, start - room), min(hi, end + room)
        return {
            "article_id": article_id,
            "article_title": article.title,
            "heading": found.heading if found else None,
            "text": article.text[lo:hi],
            "start": lo,
            "end": hi,
            "passage": [start - lo, end - lo],
            "truncated": bool(found) and (lo > found.start or hi < found.end),
        }

    def health(self) -> dict[str, Any]:
        """Whether the index is loaded, with the model and counts."""
        if self._bot is None:
            return {
                "status": "error" if self._error else "loading",
                "index_loaded": False,
                "error": self._error,
            }
        manifest = self._bot.index.manifest
        return {
            "status": "ok",
            "index_loaded": True,
            "model": manifest["model"]["id"],
            "articles": manifest["counts"]["articles"],
            "chunks": manifest["counts"]["chunks"],
            "index_created": manifest["created"],
        }


__all__ = ["BotService", "NotReadyError", "load_batched_bot"]
