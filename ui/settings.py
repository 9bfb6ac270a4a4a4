"""Settings of the served app, from defaults < a TOML config file < WENDA_* variables < flags."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from index.errors import WendaError
from index.settings import cache_dir
from index.text import TOMLDecodeError, load_toml
from qa.settings import MAX_TOP_K

SAMPLE_EXAMPLES = (
    "2024年中国与中亚五国的贸易额达到多少？",
    "第二届中国—中亚峰会在哪里举行？",
    "“中国—中亚精神”的核心内涵是什么？",
    "Which treaty did the six heads of state sign at the summit?",
)
# the sample index's question box hints at a question it can answer; an own index gets a neutral one
SAMPLE_PLACEHOLDERS = {
    "zh": "请输入问题，例如：峰会在哪里举行？",
    "en": "Your question, e.g. Where was the summit held?",
}
ANY_ORIGIN = "*"
ADMIN_TOKEN_MIN_CHARS = 16
THEMES = ("auto", "light", "dark")
Theme = Literal["auto", "light", "dark"]
FEEDBACK_MAX_BYTES = 5_000_000


class SettingsError(WendaError, ValueError):
    """A setting with a value that cannot be used; the message names it and the fix."""


@dataclass(frozen=True)
class Settings:
    """Everything `python -m ui serve` can be told; see ENV and the README for each one."""

    host: str = "127.0.0.1"
    port: int = 7860
    index: Path | None = None  # None: the built-in sample index
    allowed_origins: tuple[str, ...] = ()  # sites that may embed the chat and call the API
    feedback: bool = True  # thumbs up/down (and an optional reason) are recorded
    feedback_log: Path | None = None  # None: feedback/feedback.jsonl in the data directory (cache_dir)
    feedback_max_bytes: int = FEEDBACK_MAX_BYTES  # the log is rotated (one older file kept) past this size
    top_k: int = 5  # passages shown per reply in the chat
    concurrency: int = 16  # questions answered at once (their query embeddings share model calls); more wait
    examples: tuple[str, ...] | None = None  # None: the sample questions for the sample index, else none
    admin_token_file: Path | None = None  # None: no admin page; the token itself is never a setting
    placeholder: str | None = None  # the question box's hint; None: a sample question or a neutral hint
    placeholder_en: str | None = None  # the same on English pages (None: `placeholder`)
    theme: Theme = "auto"  # light, dark, or the reader's system setting; a page's ?theme= overrides it
    public_url: str | None = None  # the address readers use (behind a proxy), for the /embed snippets

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise SettingsError(f"port={self.port!r} is not a TCP port: use 1-65535 (e.g. --port 7860)")
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise SettingsError(f"top_k={self.top_k!r} is out of range: use 1-{MAX_TOP_K} (e.g. --top-k 5)")
        if self.concurrency < 1:
            raise SettingsError(f"concurrency={self.concurrency!r} must be at least 1 (e.g. --concurrency 4)")
        if self.theme not in THEMES:
            raise SettingsError(f"theme={self.theme!r} is not one of {', '.join(THEMES)} (e.g. --theme auto)")
        if self.feedback_max_bytes < 1000:
            raise SettingsError(
                f"feedback_max_bytes={self.feedback_max_bytes!r} is too small: use at least 1000 (e.g. 5000000)"
            )
        if not self.host.strip():
            raise SettingsError("host is empty: use an address such as 127.0.0.1 or 0.0.0.0")
        object.__setattr__(self, "allowed_origins", normalise_origins(self.allowed_origins))
        if self.examples is not None:
            object.__setattr__(self, "examples", tuple(e.strip() for e in self.examples if e.strip()))
        if self.public_url is not None:
            object.__setattr__(self, "public_url", normalise_public_url(self.public_url))

    @property
    def chat_examples(self) -> tuple[str, ...]:
        """The example questions shown in the chat."""
        if self.examples is not None:
            return self.examples
        return SAMPLE_EXAMPLES if self.index is None else ()

    @property
    def chat_placeholders(self) -> dict[str, str] | None:
        """The question box's hint per language (None: the neutral default of ui.texts)."""
        if self.placeholder or self.placeholder_en:
            zh = self.placeholder or self.placeholder_en or ""
            return {"zh": zh, "en": self.placeholder_en or zh}
        return dict(SAMPLE_PLACEHOLDERS) if self.index is None else None

    @property
    def feedback_path(self) -> Path | None:
        """Where feedback goes, or None when it is off."""
        if not self.feedback:
            return None
        return self.feedback_log or cache_dir() / "feedback" / "feedback.jsonl"


def normalise_origins(origins: Iterable[str]) -> tuple[str, ...]:
    """Each origin as scheme://host[:port] (lower case, no default port), duplicates dropped."""
    out: list[str] = []
    for origin in origins:
        value = normalise_origin(origin)
        if value and value not in out:
            out.append(value)
    return tuple(out)


def normalise_origin(origin: str) -> str:
    """One origin as scheme://host[:port]; '' for the app's own origin ('self')."""
    text = origin.strip().rstrip("/")
    if text in ("", "'self'", "self"):
        return ""
    if text == ANY_ORIGIN:
        return ANY_ORIGIN
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise SettingsError(
            f"allowed origin {origin!r} is not an origin: write scheme://host[:port] with no path, "
            "e.g. https://news.example.com or http://127.0.0.1:8000 (or * for any site)"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"allowed origin {origin!r} has a bad port: {exc}") from exc
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def normalise_public_url(url: str) -> str | None:
    """The app's public address as scheme://host[:port][/path] with no trailing slash; None if blank."""
    text = url.strip().rstrip("/")
    if not text:
        return None
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or port == -1
    ):
        raise SettingsError(
            f"public_url {url!r} is not an address: write scheme://host[:port][/path], "
            "e.g. https://qa.example.com or https://www.example.com/qa"
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "") + parts.path


def _split_list(raw: str) -> list[str]:
    return [p for p in raw.replace(",", " ").split() if p]


def _split_examples(raw: str) -> list[str]:
    return [p for p in raw.split("|") if p.strip()]


def _boolean(raw: str | bool) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{raw!r} is not a yes/no value: use true or false")


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


# setting -> (environment variable, parser of its text)
ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "host": ("WENDA_HOST", str),
    "port": ("WENDA_PORT", int),
    "index": ("WENDA_INDEX_DIR", _path),
    "allowed_origins": ("WENDA_ALLOWED_ORIGINS", _split_list),
    "feedback_log": ("WENDA_FEEDBACK_LOG", _path),
    "top_k": ("WENDA_TOP_K", int),
    "concurrency": ("WENDA_CONCURRENCY", int),
    "examples": ("WENDA_EXAMPLES", _split_examples),
    "admin_token_file": ("WENDA_ADMIN_TOKEN_FILE", _path),
    "placeholder": ("WENDA_PLACEHOLDER", str),
    "placeholder_en": ("WENDA_PLACEHOLDER_EN", str),
    "theme": ("WENDA_THEME", str),
    "feedback": ("WENDA_FEEDBACK", _boolean),
    "feedback_max_bytes": ("WENDA_FEEDBACK_MAX_BYTES", int),
    "public_url": ("WENDA_PUBLIC_URL", str),
}
CONFIG_ENV = "WENDA_CONFIG"


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config: Path | None = None,
) -> Settings:
    """Merge defaults < config file (`config` or $WENDA_CONFIG) < WENDA_* variables < flags (None: unset)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config = config or (_path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else None)
    if config is not None:
        values.update(read_config(config))
    values.update(settings_from_env(environ))
    values.update({k: v for k, v in (flags or {}).items() if v is not None})
    return _build(values)


def settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings given by WENDA_* variables."""
    values = {}
    for name, (variable, parse) in ENV.items():
        raw = environ.get(variable)
        if raw is None or not raw.strip():
            continue
        try:
            values[name] = parse(raw.strip())
        except ValueError as exc:
            raise SettingsError(f"{variable}={raw!r} is not valid for {name}: {exc}") from exc
    return values


def read_config(path: Path) -> dict[str, Any]:
    """Read a TOML config file: top-level keys named like the settings; paths relative to the file."""
    try:
        data = load_toml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(f"config file {str(path)!r} not found: check --config / {CONFIG_ENV}") from exc
    except TOMLDecodeError as exc:
        raise SettingsError(f"config file {str(path)!r} is not valid TOML: {exc}") from exc
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(
            f"config file {str(path)!r}: unknown setting(s) {unknown}; valid ones are {sorted(known)}"
        )
    return {name: _config_value(name, value, path.parent) for name, value in data.items()}


def _config_value(name: str, value: Any, base: Path) -> Any:
    if name in ("index", "feedback_log", "admin_token_file"):
        return base / _path(str(value))
    if name in ("allowed_origins", "examples"):
        if isinstance(value, str):
            return _split_list(value) if name == "allowed_origins" else _split_examples(value)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"config setting {name} must be a list of strings, got {value!r}")
    return value


def _build(values: dict[str, Any]) -> Settings:
    """Settings from loosely typed values, with messages that name the bad one."""
    converters: dict[str, Callable[[Any], Any]] = {
        "host": str,
        "port": int,
        "top_k": int,
        "concurrency": int,
        "index": _path_or_none,
        "feedback_log": _path_or_none,
        "admin_token_file": _path_or_none,
        "allowed_origins": tuple,
        "examples": tuple,
        "placeholder": _text_or_none,
        "placeholder_en": _text_or_none,
        "theme": lambda v: str(v).strip().lower(),
        "feedback": _boolean,
        "feedback_max_bytes": int,
        "public_url": str,
    }
    typed = {}
    for name, value in values.items():
        try:
            typed[name] = converters[name](value)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"setting {name}={value!r} has the wrong type: {exc}") from exc
    return replace(Settings(), **typed) if typed else Settings()


def read_admin_token(path: Path) -> str:
    """The admin token in `path` (its first line, stripped); SettingsError when it cannot be used.

    The token is only ever read from a file (never a flag or a variable), so it stays out of
    shell histories and process lists.
    """
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"admin token file {str(path)!r} cannot be read: {exc}") from exc
    token = lines[0].strip() if lines else ""
    if len(token) < ADMIN_TOKEN_MIN_CHARS:
        raise SettingsError(
            f"admin token file {str(path)!r} must hold a token of at least {ADMIN_TOKEN_MIN_CHARS} characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE; chmod 600 FILE`)"
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logging.getLogger("wenda.admin").warning(
            "admin token file %s can be read by other users: chmod 600 %s", path, path
        )
    return token


def _text_or_none(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _path_or_none(value: Any) -> Path | None:
    return None if value is None else _path(str(value))


__all__ = [
    "ENV",
    "SAMPLE_EXAMPLES",
    "SAMPLE_PLACEHOLDERS",
    "THEMES",
    "Settings",
    "SettingsError",
    "load_settings",
    "normalise_origin",
    "read_admin_token",
    "read_config",
]
