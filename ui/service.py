"""The bot as a service for the UI: loaded in the background, asked without tracebacks, and
switched to each new generation of its index while it serves (ui.live)."""

from __future__ import annotations

import atexit
import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.embed import Embedder, make_embedder
from index.errors import WendaError
from index.progress import STAGES
from index.settings import EmbedSettings, IndexSettings
from index.store import live_generation, read_manifest
from index.store.leases import Lease
from qa import Bot, QuestionError, load_bot
from ui.batching import BatchingEmbedder
from ui.live import POLL_SECONDS, GenerationWatcher, RememberingEmbedder
from ui.progress import StartProgress

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


def _embed_settings(index_dir: Path) -> EmbedSettings:
    """How the index at `index_dir` embeds its texts (its model and backend)."""
    return IndexSettings.from_dict(read_manifest(index_dir)["settings"]).embed


class NotReadyError(WendaError, RuntimeError):
    """The index is still loading (or failed to load)."""


class ServiceError(WendaError, RuntimeError):
    """An unexpected failure while answering; logged with its traceback, shown as one line."""


class BotService:
    """Holds one Bot, loads it on a background thread, and turns failures into messages.

    Without a `loader`, the service prepares the model, builds the sample index when `index_dir`
    is None, and loads the index, reporting each step to `progress`. With `watch`, it then follows
    the index: each new generation is loaded with the same embedder and replaces the bot in one
    assignment (questions in flight finish on the bot they started with).
    """

    def __init__(
        self,
        index_dir: Path | None = None,
        loader: Callable[[], Bot] | None = None,
        max_concurrent: int = 16,
        *,
        watch: bool = True,
        poll_seconds: float = POLL_SECONDS,
        progress: StartProgress | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.max_concurrent = max_concurrent
        self._loader = loader
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
        self.progress = progress or StartProgress()
        self.loaded_at: str | None = None
        self.watch = watch
        self.poll_seconds = poll_seconds
        self.watcher: GenerationWatcher | None = None
        self._lease: Lease | None = None

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
            bot = self._loader() if self._loader is not None else self._prepare_and_load()
            if bot is not None:
                self._install(bot)
                self.progress.finish_all()
                self._follow(bot)
        except Exception as exc:  # shown to users as a status, never as a traceback or a path
            self._error, detail = load_failure(exc, self.index_dir)
            if not isinstance(exc, WendaError):
                log.exception("%s", detail)  # not a named error: a bug, worth its traceback
            elif self._on_failure is None:
                log.error("%s", detail)  # one line; the path is for the server log only
            if self._on_failure is not None:
                self._on_failure(detail)
            self.progress.fail(self._error)
        finally:
            self._ready.set()

    def _prepare_and_load(self) -> Bot:
        """Prepare the model, build the sample index if needed, load the live generation."""
        from index.sample import needs_build

        index_dir = self.index_dir
        build = index_dir is None and needs_build()
        self.progress.plan(["model", *(STAGES if build else ()), "load"])
        with self.progress.step("model"):
            log.info("Preparing the embedding model (converted once on first run)…")
            embed = IndexSettings().embed if index_dir is None else _embed_settings(index_dir)
            model = make_embedder(embed, progress=False)
        if index_dir is None:
            from index.sample import ensure_sample_index

            if build:
                log.info("Building the sample index (first run)…")
            index_dir = self.index_dir = ensure_sample_index(
                progress=False, embedder=model, on_progress=self.progress.index_progress
            )
        with self.progress.step("load"):
            name = live_generation(index_dir).name
            self._hold_lease(index_dir, name)
            embedder = RememberingEmbedder(BatchingEmbedder(model))
            return load_bot(index_dir, embedder=embedder, progress=False, generation=name)

    def _install(self, bot: Bot) -> Bot | None:
        """Serve `bot` from now on; return the bot it replaces."""
        old, self._bot = self._bot, bot
        self._error = None
        self.loaded_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return old

    def _follow(self, bot: Bot) -> None:
        """Watch the bot's index for new generations (when it has one on disk)."""
        index = getattr(bot, "index", None)
        if not self.watch or index is None or not hasattr(index, "generation"):
            return
        root = index.root
        self.index_dir = self.index_dir or root
        if self._lease is None or self._lease.root != root:
            self._lease = Lease(root)
        embedder = (
            bot.embedder
            if isinstance(bot.embedder, RememberingEmbedder)
            else RememberingEmbedder(bot.embedder)
        )

        def load(name: str) -> Bot:  # the loaded model serves the new generation too
            return load_bot(root, embedder=embedder, progress=False, generation=name)

        self.watcher = GenerationWatcher(
            root, index.generation.name, load, self._install, self._lease, self.poll_seconds
        ).start()
        atexit.register(self.close)

    def _hold_lease(self, root: Path, name: str) -> None:
        if not self.watch:
            return
        try:
            self._lease = self._lease if self._lease is not None and self._lease.root == root else Lease(root)
            self._lease.hold([name])
        except OSError as exc:
            log.warning(
                "cannot write a lease in %s (%s): index writers may delete the generation in use", root, exc
            )
            self._lease = None

    def close(self) -> None:
        """Stop following the index and release the lease (the server is going away)."""
        if self.watcher is not None:
            self.watcher.stop()
        elif self._lease is not None:
            self._lease.release()

    def refresh(self) -> str | None:
        """Switch to the index's live generation now (after a write); return the generation served."""
        return self.watcher.poll() if self.watcher is not None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until loading has finished (successfully or not)."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        """Whether a bot is loaded and answering."""
        return self._bot is not None

    @property
    def bot(self) -> Bot:
        """The loaded bot; raises NotReadyError while loading or after a failed load."""
        bot = self._bot
        if bot is not None:
            return bot
        raise NotReadyError(self._error or "索引正在加载，请稍候再试。(The index is still loading.)")

    def ask(self, question: Any, top_k: Any = 5, history: Any = None) -> dict[str, Any]:
        """Answer as a dict; raises QuestionError, NotReadyError or ServiceError with a user-facing message."""
        question, history = check_question_text(question), check_history(history)
        check_top_k(top_k)
        bot = self.bot  # this question finishes on this bot, even if a new generation arrives meanwhile
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
        """Whether the index is loaded, with the model, counts, generation, when it was loaded and
        the load (never blocks)."""
        bot = self._bot
        if bot is None:
            return {
                "status": "error" if self._error else "loading",
                "index_loaded": False,
                "error": self._error,
            }
        index = bot.index
        manifest = index.manifest
        watcher = self.watcher
        return {
            "status": "ok",
            "index_loaded": True,
            "model": manifest["model"]["id"],
            "articles": manifest["counts"]["articles"],
            "chunks": manifest["counts"]["chunks"],
            "index_created": manifest["created"],
            "load": self.load(),
            "generation": index.generation.name,
            "loaded_at": self.loaded_at,
            "live_updates": watcher is not None,
            "refused": watcher.refused.to_dict() if watcher is not None and watcher.refused else None,
        }

    def status(self) -> dict[str, Any]:
        """The start's progress (for the start page), and whether the chat is ready."""
        return {**self.progress.snapshot(), "ready": self.ready}


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
