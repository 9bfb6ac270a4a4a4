"""The index on disk: a directory of plain files, written atomically, verified on load.

Layout of an index directory `ROOT`:

    ROOT/CURRENT              name of the live generation (replaced atomically)
    ROOT/.lock                held by the one writer allowed at a time
    ROOT/gen-<time>-<rand>/   one complete generation:
        manifest.json         format, model, settings, counts, versions, file checksums
        vectors.faiss         native FAISS index (IndexIDMap2; ids are the `vid` of chunks);
                              none with the Milvus store (its collection is named in the manifest)
        chunks.jsonl          one chunk per line (text, offsets, section, paragraph, vid)
        articles.jsonl        one cleaned article per line (text and metadata)
        + any extra files a component adds (listed in the manifest with checksums)

A writer builds a new generation beside the live one and then swaps `CURRENT`, so a crash
at any moment leaves the previous index loadable. Nothing is pickled. The vectors are written
and read through index.store.backends (FAISS or Milvus), the BM25 files through
index.store.keyword.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.documents import Article, Chunk
from index.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from index.files import read_jsonl, sha256_file, staged_dir, write_json, write_jsonl, write_text_atomic
from index.settings import IndexSettings
from index.store.backends import VectorWriter, backend_of, new_vectors, open_vectors
from index.store.vectors import VECTORS, VectorStore  # noqa: F401 - VECTORS: the file name, for tests and tools

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"
ARTICLES = "articles.jsonl"
CURRENT = "CURRENT"

FileWriter = Callable[[Path], None]


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored: the chunk, its FAISS id and the digest of its embedded text."""

    chunk: Chunk
    vid: int
    embed_hash: str


@dataclass
class LoadedIndex:
    """An index read into memory (the vectors stay on the Milvus server with that store).

    `vectors` is what qa searches through; `faiss_index` is the native FAISS index (None for
    a Milvus store), for the index's own code and benchmarks.
    """

    root: Path
    generation: Path
    manifest: dict[str, Any]
    faiss_index: Any
    chunks: list[StoredChunk]
    articles: dict[str, Article]
    vectors: VectorStore

    @property
    def settings(self) -> IndexSettings:
        """The settings the index was built with."""
        return IndexSettings.from_dict(self.manifest["settings"])

    def path(self, name: str) -> Path:
        """Path of a file of the live generation."""
        return self.generation / name


def index_exists(root: Path) -> bool:
    """True when `root` holds a live index generation."""
    return (root / CURRENT).is_file()


def live_generation(root: Path) -> Path:
    """Return the live generation directory of the index at `root`."""
    if not root.exists():
        raise IndexNotFoundError(
            f"no index at {str(root)!r}: build one with `python -m index build --corpus DIR --index {root}`"
        )
    pointer = root / CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(
            f"{str(root)!r} is not an index directory (no {CURRENT} file): build one with "
            f"`python -m index build --corpus DIR --index {root}`"
        )
    generation = root / pointer.read_text(encoding="utf-8").strip()
    if not (generation / MANIFEST).is_file():
        raise IndexCorruptError(
            f"index {str(root)!r}: live generation {generation.name!r} is missing; rebuild the index"
        )
    return generation


def read_manifest(root: Path) -> dict[str, Any]:
    """Read the manifest of the live generation."""
    generation = live_generation(root)
    try:
        return json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"index {str(root)!r}: {MANIFEST} is unreadable ({exc}); rebuild the index"
        ) from exc


def load_index(
    root: Path, model_id: str | None = None, fingerprint: str | None = None, verify: bool = True
) -> LoadedIndex:
    """Load and verify the live generation of the index at `root`.

    Raises:
        IndexNotFoundError, IndexCorruptError, IndexMismatchError; StoreUnavailableError when
        its Milvus server cannot be reached.
    """
    generation = live_generation(root)
    manifest = read_manifest(root)
    _check_format(root, manifest)
    if verify:
        verify_files(generation, manifest)
    check_model(manifest, model_id, fingerprint, root)
    try:
        chunks = [_stored_chunk(row) for row in read_jsonl(generation / CHUNKS)]
        articles = {a.id: a for a in (Article.from_dict(row) for row in read_jsonl(generation / ARTICLES))}
        settings = IndexSettings.from_dict(manifest["settings"])
    except (RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index {str(root)!r} is damaged ({exc}); rebuild it") from exc
    _check_counts(root, manifest, chunks, articles)
    vectors, native = open_vectors(root, generation, manifest, settings.store, chunks)
    return LoadedIndex(root, generation, manifest, native, chunks, articles, vectors)


def check_model(
    manifest: Mapping[str, Any], model_id: str | None, fingerprint: str | None, root: Path
) -> None:
    """Raise IndexMismatchError when the query embedder is not the one the index was built with."""
    built = manifest["model"]
    if model_id is not None and model_id != built["id"]:
        raise IndexMismatchError(
            f"index {str(root)!r} was built with model {built['id']!r}, but the query model is {model_id!r}: "
            f"query with {built['id']!r} or rebuild the index with {model_id!r}"
        )
    if fingerprint is not None and fingerprint != built["fingerprint"]:
        raise IndexMismatchError(
            f"index {str(root)!r} was built with another version of model {built['id']!r} "
            f"(fingerprint {built['fingerprint']} != {fingerprint}): rebuild the index"
        )


def verify_files(generation: Path, manifest: Mapping[str, Any]) -> None:
    """Check that every file listed in the manifest exists with its size and checksum."""
    for name, expected in manifest["files"].items():
        path = generation / name
        if not path.is_file():
            raise IndexCorruptError(
                f"index file {name!r} is missing from {str(generation)!r}; rebuild the index"
            )
        if path.stat().st_size != expected["bytes"] or sha256_file(path) != expected["sha256"]:
            raise IndexCorruptError(
                f"index file {name!r} in {str(generation)!r} is damaged (checksum mismatch); rebuild the index"
            )


def write_index(
    root: Path,
    *,
    articles: Sequence[Article],
    chunks: Sequence[StoredChunk],
    vectors: np.ndarray,
    settings: IndexSettings,
    model: Mapping[str, Any],
    extra_files: Mapping[str, FileWriter] | None = None,
    extra_manifest: Mapping[str, Any] | None = None,
    texts: Sequence[str] | None = None,
    progress: bool = False,
) -> Path:
    """Write a new generation from chunk vectors and make it live; return its directory.

    `texts` are the chunks' embedded texts (needed by the Milvus store, which indexes them
    for BM25). The caller must hold the write lock (see `writer_lock`).
    """
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    dimension = (
        vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else int(model.get("dimension") or 0)
    )
    writer = new_vectors(
        vectors,
        chunks,
        settings.store,
        dimension,
        root=root,
        articles=articles,
        texts=texts,
        progress=progress,
    )
    return write_generation(
        root,
        articles=articles,
        chunks=chunks,
        vectors=writer,
        settings=settings,
        model=model,
        extra_files=extra_files,
        extra_manifest=extra_manifest,
    )


def write_generation(
    root: Path,
    *,
    articles: Sequence[Article],
    chunks: Sequence[StoredChunk],
    vectors: VectorWriter,
    settings: IndexSettings,
    model: Mapping[str, Any],
    extra_files: Mapping[str, FileWriter] | None = None,
    extra_manifest: Mapping[str, Any] | None = None,
    next_vid: int | None = None,
) -> Path:
    """Write a new generation around its ready vectors and make it live; return its directory.

    `vectors` (index.store.backends) must hold exactly the vids of `chunks`; once the
    generation is live it is published (the Milvus alias switched). `next_vid` is the first
    vid never used yet (vids are not reused, so a stale reference can never name another
    chunk). The caller must hold the write lock (see `writer_lock`).
    """
    if vectors.ntotal != len(chunks):
        raise ValueError(f"{len(chunks)} chunks but {vectors.ntotal} vectors")
    with _new_generation(root, vectors.publish) as staging:
        for name, writer in vectors.files().items():
            stage_hook("faiss")
            writer(staging / name)
        stage_hook("chunks")
        write_jsonl(staging / CHUNKS, (_chunk_row(c) for c in chunks))
        stage_hook("articles")
        write_jsonl(staging / ARTICLES, (a.to_dict() for a in articles))
        for name, writer in (extra_files or {}).items():
            stage_hook(name)
            writer(staging / name)
        floor = max((c.vid for c in chunks), default=-1) + 1
        counts = {"articles": len(articles), "chunks": len(chunks), "next_vid": max(next_vid or 0, floor)}
        manifest = _manifest(
            staging, counts, vectors.dimension, settings, model, vectors.manifest(), extra_manifest
        )
        stage_hook("manifest")
        write_json(staging / MANIFEST, manifest)
    return root / staging.name


def stage_hook(stage: str) -> None:
    """Called before each step of writing a generation; does nothing (tests slow it down to kill a writer)."""


def remove_stale(root: Path) -> None:
    """Delete what a killed writer left behind: staging directories and CURRENT temporaries.

    Only a writer holding the lock may call this, so nothing it deletes is still being written.
    Staging directories are `.staging-*` (see index.files.staged_dir), CURRENT temporaries
    `.CURRENT.*` (see index.files.write_text_atomic).
    """
    for path in root.glob(".staging-*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in root.glob(f".{CURRENT}.*"):
        path.unlink(missing_ok=True)


def update_settings(root: Path, settings: IndexSettings, note: Mapping[str, Any] | None = None) -> Path:
    """Make a new generation with the same files and new settings in its manifest.

    Files are hard-linked (copied where links are not possible), so this is cheap and atomic.
    The caller must hold the write lock.
    """
    current = live_generation(root)
    manifest = read_manifest(root)
    verify_files(current, manifest)
    with _new_generation(root) as staging:
        for name in manifest["files"]:
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(current / name, target)
        write_json(staging / MANIFEST, {**manifest, "settings": settings.to_dict(), **(note or {})})
    return root / staging.name


@contextmanager
def _new_generation(
    root: Path, publish: Callable[[Mapping[str, Any] | None], None] | None = None
) -> Iterator[Path]:
    """Yield the directory to write a new generation into; when the block succeeds it goes live,
    and then `publish` is called with the previous generation's `store` section.

    The caller must hold the write lock. What a killed writer leaves is removed first.
    """
    root.mkdir(parents=True, exist_ok=True)
    remove_stale(root)
    generation = root / _generation_name()
    with staged_dir(generation, sync=True) as scratch:
        staging = scratch / generation.name
        staging.mkdir()
        yield staging
        stage_hook("rename")
    previous = _make_live(root, generation)
    if publish is not None:
        publish(previous)


def _make_live(root: Path, generation: Path) -> dict[str, Any] | None:
    """Point CURRENT at `generation` with one atomic rename, and drop superseded generations;
    return the previous generation's `store` section (None without one).

    The previous generation stays one round, for readers that resolved CURRENT just before the swap.
    """
    previous = (root / CURRENT).read_text(encoding="utf-8").strip() if index_exists(root) else ""
    before = _store_section(root / previous) if previous else None
    stage_hook("swap")
    write_text_atomic(root / CURRENT, generation.name + "\n")
    _remove_old_generations(root, keep={generation.name, previous})
    return before


def _store_section(generation: Path) -> dict[str, Any] | None:
    """The `store` section of a generation's manifest (None when it cannot be read)."""
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return dict(manifest.get("store") or {"backend": backend_of(manifest)})


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _manifest(
    staging: Path,
    counts: Mapping[str, int],
    dimension: int,
    settings: IndexSettings,
    model: Mapping[str, Any],
    described: Mapping[str, Any],
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    files = {
        p.relative_to(staging).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(staging.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    return {
        "format": "wenda-index",
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": {**model, "dimension": dimension},
        "settings": settings.to_dict(),
        **described,
        "counts": {"articles": counts["articles"], "chunks": counts["chunks"]},
        "next_vid": counts["next_vid"],
        "versions": _versions(),
        "files": files,
        **(extra or {}),
    }


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("wenda", "faiss-cpu", "sentence-transformers", "transformers", "torch", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _check_format(root: Path, manifest: Mapping[str, Any]) -> None:
    if manifest.get("format") != "wenda-index" or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index {str(root)!r} has format {manifest.get('format')!r} version {manifest.get('format_version')!r}; "
            f"this program reads wenda-index version {FORMAT_VERSION}: rebuild the index"
        )


def _check_counts(root: Path, manifest: Mapping[str, Any], chunks: list, articles: dict) -> None:
    counts = manifest["counts"]
    if counts["chunks"] != len(chunks) or counts["articles"] != len(articles):
        raise IndexCorruptError(
            f"index {str(root)!r} is inconsistent ({len(chunks)} chunks, "
            f"{len(articles)} articles; manifest says {counts}): rebuild it"
        )


def _chunk_row(stored: StoredChunk) -> dict[str, Any]:
    return {**stored.chunk.to_dict(), "vid": stored.vid, "embed_hash": stored.embed_hash}


def _stored_chunk(row: dict[str, Any]) -> StoredChunk:
    return StoredChunk(Chunk.from_dict(row), int(row["vid"]), str(row["embed_hash"]))


def _generation_name() -> str:
    return f"gen-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def _remove_old_generations(root: Path, keep: set[str]) -> None:
    """Delete superseded generations and abandoned staging directories."""
    for path in root.iterdir():
        stale = path.name.startswith(("gen-", ".staging-")) and path.name not in keep
        if stale and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
