"""The bot as a service for the UI: loaded in the background, asked without tracebacks."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.embed import Embedder, make_embedder
from index.errors import WendaError
from index.settings import EmbedSettings, IndexSettings
from index.store import read_manifest
from qa import Bot, QuestionError, load_bot
from ui.batching import BatchingEmbedder

log = logging.getLogger("wenda.ui")
MAX_HISTORY = 20  # earlier questions taken from a request; only the last one is read with a follow-up
BUILD_HINT = "python -m index build --corpus DIR --index DIR"
# what to do about a failed load, by the name of the error's class (or of one of its bases)
LOAD_HINTS = {
    "IndexNotFoundError": f"build one with `{BUILD_HINT}`, then restart the server",
    "IndexCorruptError": f"rebuild it with `{BUILD_HINT}`, then restart the server",
    "IndexMismatchError": f"rebuild it with `{BUILD_HINT}` (it then uses the server's model), then restart",
    "IndexLockedError": "wait for the writer to finish, then restart the server",
    "EmbedderError": "check the embedding model (`python -m index info --index DIR` names it), then restart",
}
_QUOTED_PATH = re.compile(r"""(['"])(?:~|[A-Za-z]:)?[/\\][^'"]*\1""")
_BARE_PATH = re.compile(r"(?<![\w:/.])(?:~|[A-Za-z]:)?/[^\s'\",;]+")
PATH_PLACEHOLDER = "(path in the server log)"
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


class ServiceError(WendaError, RuntimeError):
    """An unexpected failure while answering; logged with its traceback, shown as one line."""


class BotService:
    """Holds one Bot, loads it on a background thread, and turns failures into messages."""

    def __init__(
        self, index_dir: Path | None = None, loader: Callable[[], Bot] | None = None, max_concurrent: int = 16
    ) -> None:
        self.index_dir = index_dir
        self.max_concurrent = max_concurrent
        self._loader = loader or (lambda: load_batched_bot(index_dir))
        self._bot: Bot | None = None
        self._error: str | None = None
        self._ready = threading.Event()
        self._on_failure: Callable[[str], None] | None = None
        # the REST API and the chat share one cap (the `concurrency` setting)
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._count_lock = threading.Lock()
        self._answering = 0
        self._waiting = 0
        self._limiter: Any = None  # anyio.CapacityLimiter for ask_async, made on first use

    def start(self, background: bool = True, on_failure: Callable[[str], None] | None = None) -> BotService:
        """Begin loading the bot; with background=False, wait for it.

        `on_failure` is called once with a one-line message (naming the path) if loading fails;
        it then reports it instead of the log.
        """
        self._on_failure = on_failure
        if background:
            threading.Thread(target=self._load, name="wenda-load", daemon=True).start()
        else:
            self._load()
        return self

    def _load(self) -> None:
        try:
            self._bot = self._loader()
        except Exception as exc:  # shown to users as a status, never as a traceback or a path
            self._error, detail = load_failure(exc, self.index_dir)
            if not isinstance(exc, WendaError):
                log.exception("%s", detail)  # not a named error: a bug, worth its traceback
            elif self._on_failure is None:
                log.error("%s", detail)  # one line; the path is for the server log only
            if self._on_failure is not None:
                self._on_failure(detail)
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

    def ask(self, question: Any, top_k: Any = 5, history: Any = None) -> dict[str, Any]:
        """Answer as a dict; raises QuestionError, NotReadyError or ServiceError with a user-facing message."""
        question, history = check_question_text(question), check_history(history)
        check_top_k(top_k)
        bot = self.bot
        with self._count_lock:
            self._waiting += 1
        with self._slots:
            with self._count_lock:
                self._waiting -= 1
                self._answering += 1
            try:
                return bot.ask(question, top_k=top_k, history=history).to_dict()
            except WendaError:
                raise  # QuestionError and the other named errors say what to do
            except Exception as exc:
                log.exception("answering %r failed", question[:100])
                raise ServiceError(
                    "回答时出错，已记入服务器日志，请稍后再试。"
                    "(An internal error occurred while answering; it is in the server log.)"
                ) from exc
            finally:
                with self._count_lock:
                    self._answering -= 1

    async def ask_async(self, question: Any, top_k: Any = 5, history: Any = None) -> dict[str, Any]:
        """`ask` on a worker thread, for async routes: requests waiting for one of the
        `max_concurrent` places hold no thread, so they never starve the server's thread pool."""
        import anyio

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_concurrent)
        self.bot  # noqa: B018 - NotReadyError before taking a thread
        call = functools.partial(self.ask, question, top_k, history)
        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    def load(self) -> dict[str, int]:
        """How busy the service is: questions being answered, waiting, and how many fit at once."""
        queued = self._limiter.statistics().tasks_waiting if self._limiter is not None else 0
        with self._count_lock:
            return {
                "answering": self._answering,
                "waiting": self._waiting + queued,
                "capacity": self.max_concurrent,
            }

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
            "truncated": found is not None and (lo > found.start or hi < found.end),
        }

    def health(self) -> dict[str, Any]:
        """Whether the index is loaded, with the model, counts and load (never blocks)."""
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
            "load": self.load(),
        }


def check_question_text(question: Any) -> str:
    """The question if it is text the model can read; QuestionError naming the problem otherwise."""
    if not isinstance(question, str):
        raise QuestionError(
            f"问题必须是文本。(The question must be text (a JSON string), not {describe_value(question)}.)"
        )
    check_encodable(question, "question")
    return question


def check_history(history: Any) -> list[str]:
    """The earlier questions as a list of strings (the last MAX_HISTORY); QuestionError otherwise."""
    if history is None:
        return []
    if not isinstance(history, (list, tuple)) or not all(isinstance(h, str) for h in history):
        raise QuestionError(
            "history 必须是问题文本的列表。(history must be a list of earlier questions as strings, "
            f"not {describe_value(history)}.)"
        )
    for item in history:
        check_encodable(item, "history")
    return list(history[-MAX_HISTORY:])


def check_top_k(top_k: Any) -> None:
    """QuestionError unless top_k is a whole number (a JSON integer, not a bool or a string)."""
    if not isinstance(top_k, int) or isinstance(top_k, bool):
        raise QuestionError(f"top_k must be a whole number (a JSON integer), not {describe_value(top_k)}.")


def check_encodable(text: str, field: str) -> None:
    """QuestionError if `text` holds an unpaired surrogate (no UTF-8 form; the tokenizer fails on it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise QuestionError(
            f"{field} 含有无效字符。({field} contains an unpaired surrogate U+{code:04X} at position "
            f"{exc.start}, which is not a character: send valid UTF-8 text.)"
        ) from None


def without_surrogates(text: str) -> str:
    """`text` with each unpaired surrogate replaced by U+FFFD (for showing it back)."""
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def describe_value(value: Any) -> str:
    """A short description of a JSON value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"[:40]
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list with non-string items" if value else "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def load_failure(exc: BaseException, index_dir: Path | None) -> tuple[str, str]:
    """For a failed load: the message shown to users (no path) and the log line (with the path)."""
    names = [c.__name__ for c in type(exc).__mro__]
    hint = next(
        (LOAD_HINTS[n] for n in names if n in LOAD_HINTS), "see the server log, then restart the server"
    )
    where = f"the index at {str(index_dir)!r}" if index_dir is not None else "the sample index"
    detail = " ".join(f"cannot load {where}: {exc}; {hint}".split())
    reason = (
        scrub_paths(" ".join(str(exc).split()), index_dir)
        if isinstance(exc, WendaError)
        else type(exc).__name__
    )
    shown = f"索引加载失败，请查看服务器日志。(The index could not be loaded: {reason}; {hint}.)"
    return shown, detail


def scrub_paths(text: str, *known: Path | None) -> str:
    """`text` with filesystem paths (absolute ones, and `known` ones as given) replaced by a placeholder."""
    for path in known:
        if path is not None and str(path) not in ("", "."):
            text = text.replace(f"'{path}'", PATH_PLACEHOLDER).replace(str(path), PATH_PLACEHOLDER)
    text = _QUOTED_PATH.sub(PATH_PLACEHOLDER, text)
    return _BARE_PATH.sub(PATH_PLACEHOLDER, text)


__all__ = [
    "BotService",
    "NotReadyError",
    "QuestionError",
    "ServiceError",
    "load_batched_bot",
    "load_failure",
    "scrub_paths",
    "without_surrogates",
]
