"""The built-in sample corpus (two People's Daily articles) and its default index."""

from __future__ import annotations

import sys
from pathlib import Path

from index.config import IndexSettings, cache_dir
from index.store import index_exists

SAMPLE_CORPUS = Path(__file__).resolve().parent / "data" / "sample"


def default_index_dir() -> Path:
    """Where the sample index is kept: <cache>/index/sample."""
    return cache_dir() / "index" / "sample"


def ensure_sample_index(index_dir: Path | None = None, progress: bool = True) -> Path:
    """Return the sample index directory, building it first if it does not exist yet."""
    index_dir = index_dir or default_index_dir()
    if not index_exists(index_dir):
        from index.build import build_index

        if progress:
            print(f"Building the sample index in {index_dir} (first run only)…", file=sys.stderr)
        report = build_index(SAMPLE_CORPUS, index_dir, IndexSettings(), progress=progress)
        if progress:
            print(report.summary(), file=sys.stderr)
    return index_dir
