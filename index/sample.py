"""The built-in sample corpus (two People's Daily articles) and its default index."""

from __future__ import annotations

import json
from pathlib import Path

from index.embed import Embedder
from index.errors import IndexStoreError
from index.files import log
from index.progress import OnProgress
from index.settings import IndexSettings, cache_dir
from index.store import index_exists, read_manifest

SAMPLE_CORPUS = Path(__file__).resolve().parent / "data" / "sample"


def default_index_dir() -> Path:
    """Where the sample index is kept: <cache>/index/sample."""
    return cache_dir() / "index" / "sample"


def ensure_sample_index(
    index_dir: Path | None = None,
    progress: bool = True,
    embedder: Embedder | None = None,
    on_progress: OnProgress | None = None,
) -> Path:
    """Return the sample index directory, building it first if it is missing or was built
    with other settings than this version's defaults (unchanged chunks are not re-embedded).

    `embedder` (the default model) saves loading it again; `on_progress` hears the build's steps.
    """
    index_dir = index_dir or default_index_dir()
    if needs_build(index_dir):
        from index.build import build_index

        log(progress, f"Building the sample index in {index_dir}…")
        report = build_index(
            SAMPLE_CORPUS, index_dir, IndexSettings(), embedder, progress=progress, on_progress=on_progress
        )
        log(progress, report.summary())
    return index_dir


def needs_build(index_dir: Path | None = None) -> bool:
    """True when the sample index (at `index_dir`, else the default place) must be built first."""
    return not _current(index_dir or default_index_dir())


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
