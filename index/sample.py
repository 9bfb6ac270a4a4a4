"""The built-in sample corpus (two People's Daily articles) and its default index."""

from __future__ import annotations

import json
from pathlib import Path

from index.errors import IndexStoreError
from index.files import log
from index.settings import IndexSettings, cache_dir
from index.store import index_exists, read_manifest

SAMPLE_CORPUS = Path(__file__).resolve().parent / "data" / "sample"


def default_index_dir() -> Path:
    """Where the sample index is kept: <cache>/index/sample."""
    return cache_dir() / "index" / "sample"


def ensure_sample_index(index_dir: Path | None = None, progress: bool = True) -> Path:
    """Return the sample index directory, building it first if it is missing or was built
    with other settings than this version's defaults (unchanged chunks are not re-embedded)."""
    index_dir = index_dir or default_index_dir()
    if not _current(index_dir):
        from index.build import build_index

        log(progress, f"Building the sample index in {index_dir}…")
        report = build_index(SAMPLE_CORPUS, index_dir, IndexSettings(), progress=progress)
        log(progress, report.summary())
    return index_dir


def _current(index_dir: Path) -> bool:
    """True when the index exists and was built with today's default settings.

    qa's retrieval section is left out: it says how to answer from the index, not what the
    index holds (and a rebuild carries a calibrated one over, see index.build.keep_calibration).
    """
    if not index_exists(index_dir):
        return False
    try:
        defaults = json.loads(json.dumps(IndexSettings().to_dict()))  # tuples read back as lists
        built = read_manifest(index_dir)["settings"]
        return isinstance(built, dict) and {**built, "retrieval": {}} == {**defaults, "retrieval": {}}
    except (IndexStoreError, KeyError):
        return False
