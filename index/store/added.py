"""When each article entered the index: `added.json` in every generation, {article id: UTC time}.

Writers carry the times of the articles they keep over from the previous generation and stamp
new and replaced articles with the time of the write. Indexes written before this file existed
have no times (None).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Mapping, Sequence

from index.documents import Article
from index.files import write_json
from index.store.generations import FileWriter, LoadedIndex

ADDED = "added.json"


def now() -> str:
    """The current UTC time as written in `added.json`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def read_added(index: LoadedIndex | None) -> dict[str, str]:
    """The times the articles of `index` were added (empty for None or an index without the file)."""
    if index is None:
        return {}
    path = index.path(ADDED)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def added_times(
    previous: Mapping[str, str],
    articles: Sequence[Article],
    changed: Collection[str],
    stamp: str | None = None,
) -> dict[str, str]:
    """The added times of `articles`: kept from `previous` unless the article is in `changed` or new."""
    stamp = stamp or now()
    return {a.id: previous[a.id] if a.id in previous and a.id not in changed else stamp for a in articles}


def added_file(times: Mapping[str, str]) -> dict[str, FileWriter]:
    """The extra file of a generation that holds `times`."""
    return {ADDED: lambda path: write_json(path, dict(times))}


__all__ = ["ADDED", "added_file", "added_times", "now", "read_added"]
