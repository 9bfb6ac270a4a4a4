"""Metadata beside a corpus file: `NAME.meta.json` or `NAME.meta.toml`.

A sidecar is an object for every article of the file, a list by article position, or an
object whose `articles` list (`[[articles]]` in TOML) gives per-article values over the
shared ones. TOML dates and times become ISO strings, so metadata stays JSON.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from index.errors import CorpusError
from index.text import TOMLDecodeError, load_toml

SIDECARS = (".meta.json", ".meta.toml")


def read_sidecar(path: Path) -> Any:
    """Read `NAME.meta.json` or `NAME.meta.toml` beside a file, if present."""
    found = [p for p in (path.with_name(path.stem + suffix) for suffix in SIDECARS) if p.exists()]
    if len(found) > 1:
        raise CorpusError(f"{path}: both {found[0].name} and {found[1].name} give its metadata; keep one")
    if not found:
        return None
    meta_path = found[0]
    text = meta_path.read_text(encoding="utf-8")
    data = _parse_toml(meta_path, text) if meta_path.suffix == ".toml" else _parse_json(meta_path, text)
    rows = data if isinstance(data, list) else [data]
    if not all(isinstance(row, dict) for row in rows):
        raise CorpusError(f"{meta_path}: must be an object, or a list of objects (one per article)")
    return _plain(data)


def _parse_json(meta_path: Path, text: str) -> Any:
    """Parse a JSON sidecar."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{meta_path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def _parse_toml(meta_path: Path, text: str) -> dict[str, Any]:
    """Parse a TOML sidecar."""
    try:
        return load_toml(text)
    except TOMLDecodeError as exc:
        raise CorpusError(f"{meta_path}: not valid TOML ({exc})") from exc


def _plain(value: Any) -> Any:
    """TOML dates and times as ISO strings, so metadata stays JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    return value


def sidecar_for(sidecar: Any, position: int) -> dict[str, Any]:
    """Sidecar metadata for the article at `position`: shared values, then its own."""
    if isinstance(sidecar, list):
        return dict(sidecar[position]) if position < len(sidecar) else {}
    if not isinstance(sidecar, dict):
        return {}
    shared = {k: v for k, v in sidecar.items() if k != "articles"}
    own = sidecar.get("articles")
    if isinstance(own, list) and position < len(own) and isinstance(own[position], dict):
        return {**shared, **own[position]}
    return shared
