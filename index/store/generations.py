"""The index on disk: a directory of plain files, written atomically, verified on load.

Layout of an index directory `ROOT`:

    ROOT/CURRENT              name of the live generation (replaced atomically)
    ROOT/.lock                held by the one writer allowed at a time
    ROOT/gen-<time>-<rand>/   one complete generation:
        manifest.json         format, model, settings, counts, versions, file checksums
        vectors.faiss         native FAISS index (IndexIDMap2; ids are the `vid` of chunks);
                              none with the Milvus store (its collection is named in the manifest)
        records.sqlite        the chunks (text, offsets, section, paragraph, vid) by position and
                              the cleaned articles (text and metadata) by id (index.store.records);
                              read on demand, never loaded whole
        + any extra files a component adds (listed in the manifest with checksums)

A writer builds a new generation beside the live one and then swaps `CURRENT`, so a crash
at any moment leaves the previous index loadable. Superseded generations are deleted by the
next writer, except the one just replaced and those a running server holds a lease on
(index.store.leases); a Milvus collection lives as long as a kept generation names it.
Generations of format version 1 kept the records as chunks.jsonl and articles.jsonl; they
are still read (into memory). Nothing is pickled. The vectors are written and read through index.store.backends (FAISS or
Milvus), the BM25 files through index.store.keyword.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.documents import Article
from index.errors import (
    DiskFullError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    one_line,
)
from index.files import (
    is_disk_full,
    lock_time,
    read_jsonl,
    sha256_file,
    staged_dir,
    write_json,
    write_text_atomic,
)
from index.settings import IndexSettings, cache_dir
from index.store.backends import VectorWriter, backend_of, new_vectors, open_vectors
from index.store.leases import leased_generations
from index.store.records import (
    RECORDS,
    ArticleRecords,
    ChunkRecords,
    MemoryChunks,
    StoredChunk,
    open_records,
    stored_chunk,
    write_records,
)
from index.store.spool import VectorSpool
from index.store.vectors import (  # noqa: F401 - VECTORS: the file name, for tests and tools
    VECTORS,
    Rows,
    VectorStore,
    warm_page_cache,
)

FORMAT_VERSION = 2  # 2: records in records.sqlite
READ_VERSIONS = (1, 2)  # 1: records in chunks.jsonl and articles.jsonl, read whole
MANIFEST = "manifest.json"
CHUNKS = "chunks.jsonl"  # of a version-1 generation
ARTICLES = "articles.jsonl"  # of a version-1 generation
CURRENT = "CURRENT"
_GENERATION_NAME = re.compile(r"gen-[A-Za-z0-9_-]+")  # what _generation_name makes: one plain name

FileWriter = Callable[[Path], None]


@dataclass
class LoadedIndex:
    """An index opened for reading (the vectors stay on the Milvus server with that store).

    `vectors` is what qa searches through; `faiss_index` is the native FAISS index (None for
    a Milvus store), for the index's own code and benchmarks. `chunks` (by position) and
    `articles` (by id) are read from the generation's records file as they are asked for
    (index.store.records); their `positions(vids)` and `article_counts()` answer from it too.
    """

    root: Path
    generation: Path
    manifest: dict[str, Any]
    faiss_index: Any
    chunks: ChunkRecords | MemoryChunks
    articles: ArticleRecords | dict[str, Article]
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
    """Return the live generation directory of the index at `root`.

    CURRENT must name a generation directory inside `root` (`gen-…`): an absolute path, `..`,
    or a symbolic link (CURRENT itself or the generation) is refused as corrupt, so a
    tampered index can never make a reader load files from elsewhere.
    """
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
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if pointer.is_symlink() or not _GENERATION_NAME.fullmatch(name) or (root / name).is_symlink():
        raise IndexCorruptError(
            f"index {str(root)!r}: {CURRENT} must name a generation directory inside the index "
            f"(got {name[:80]!r}{', through a symbolic link' if pointer.is_symlink() else ''}); rebuild the index"
        )
    generation = root / name
    if not (generation / MANIFEST).is_file():
        raise IndexCorruptError(
            f"index {str(root)!r}: live generation {generation.name!r} is missing; rebuild the index"
        )
    return generation


def named_generation(root: Path, name: str) -> Path:
    """The directory of generation `name` of the index at `root` (not necessarily the live one)."""
    if not name.startswith("gen-") or Path(name).name != name:
        raise IndexNotFoundError(f"{name!r} is not a generation name (gen-…) of index {str(root)!r}")
    generation = root / name
    if not (generation / MANIFEST).is_file():
        raise IndexNotFoundError(f"index {str(root)!r} has no complete generation {name!r}")
    return generation


def read_manifest(root: Path) -> dict[str, Any]:
    """Read and check the manifest of the live generation.

    Raises:
        IndexNotFoundError, IndexCorruptError (unreadable, or valid JSON of the wrong shape).
    """
    return _manifest_of(root, live_generation(root))


def _manifest_of(root: Path, generation: Path) -> dict[str, Any]:
    """Read and check the manifest of one generation of the index at `root`."""
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(
            f"index {str(root)!r}: {MANIFEST} of {generation.name!r} is unreadable ({exc}); rebuild the index"
        ) from exc
    _check_format(root, manifest)
    if problem := manifest_problem(manifest):
        raise IndexCorruptError(f"index {str(root)!r}: {MANIFEST} is damaged ({problem}); rebuild the index")
    return manifest


def manifest_problem(manifest: Any) -> str | None:
    """What is wrong with the shape of a manifest that parsed as JSON, or None when it is sound.

    Checked: every part the index, qa and `index info` read (model, counts, files, FAISS
    type, settings, next FAISS id), with its type.
    """
    milvus = backend_of(manifest) == "milvus"  # its vectors are described by `store`, not `faiss`
    vectors = ("store", manifest.get("store"), dict) if milvus else ("faiss", manifest.get("faiss"), dict)
    checks: list[tuple[str, Any, type | tuple[type, ...]]] = [
        ("model", manifest.get("model"), dict),
        ("counts", manifest.get("counts"), dict),
        ("files", manifest.get("files"), dict),
        vectors,
        ("settings", manifest.get("settings"), dict),
        ("created", manifest.get("created"), str),
    ]
    for name, value, kind in checks:
        if not isinstance(value, kind):
            return _wrong(name, value, kind)
    model, counts, described = manifest["model"], manifest["counts"], manifest[vectors[0]]
    kind_field = (
        ("store.collection", described.get("collection"), str)
        if milvus
        else (
            "faiss.type",
            described.get("type"),
            str,
        )
    )
    fields: list[tuple[str, Any, type | tuple[type, ...]]] = [
        ("model.id", model.get("id"), str),
        ("model.fingerprint", model.get("fingerprint"), str),
        ("model.dimension", model.get("dimension"), int),
        ("counts.articles", counts.get("articles"), int),
        ("counts.chunks", counts.get("chunks"), int),
        kind_field,
        ("next_vid", manifest.get("next_vid", 0), int),
        ("versions", manifest.get("versions", {}), dict),
    ]
    for name, value, kind in fields:
        negative = isinstance(value, int) and value < 0
        if not isinstance(value, kind) or isinstance(value, bool) or negative:
            return _wrong(name, value, kind)
    return _files_problem(manifest["files"]) or _settings_problem(manifest["settings"])


def _files_problem(files: Mapping[str, Any]) -> str | None:
    for name, entry in files.items():
        parts = Path(name).parts
        if not name or Path(name).is_absolute() or ".." in parts or name == MANIFEST:
            return f"file name {name[:80]!r} is not a path inside the generation"
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            return f"files[{name!r}] has no sha256"
        size = entry.get("bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return _wrong(f"files[{name!r}].bytes", size, int)
    return None


def _settings_problem(settings: Mapping[str, Any]) -> str | None:
    for name in ("clean", "chunk", "embed", "store", "retrieval"):
        if not isinstance(settings.get(name, {}), dict):
            return _wrong(f"settings.{name}", settings.get(name), dict)
    try:
        IndexSettings.from_dict(dict(settings))
    except (TypeError, ValueError) as exc:
        return f"settings: {' '.join(str(exc).split())}"
    return None


def _wrong(name: str, value: Any, kind: type | tuple[type, ...]) -> str:
    """`name` is missing or of the wrong type, in words."""
    want = "an object" if kind is dict else "a number" if kind is int else "text"
    if value is None:
        return f"{name} is missing"
    return f"{name} should be {want}, not {type(value).__name__} {json.dumps(value, ensure_ascii=False)[:40]}"


def load_index(
    root: Path,
    model_id: str | None = None,
    fingerprint: str | None = None,
    verify: bool = True,
    generation: str | None = None,
    warm: bool = False,
) -> LoadedIndex:
    """Load and verify the live generation of the index at `root` (or the one named `generation`).

    With `warm` (a server's load, qa.load_bot), `vectors.faiss` and then `records.sqlite` are
    read into the page cache in the background while they fit its budget (`warm_page_cache`):
    each question reads them at random. Writers and tools that load an index do not.

    Raises:
        IndexNotFoundError, IndexCorruptError, IndexMismatchError; StoreUnavailableError when
        its Milvus server cannot be reached.
    """
    folder = named_generation(root, generation) if generation else live_generation(root)
    manifest = _manifest_of(root, folder)  # of this generation, even if CURRENT moves meanwhile
    # files unchanged since a load found them sound and consistent with each other are not
    # cross-checked again: those checks read every chunk's record and every FAISS id, which
    # at ten million chunks took longer than the rest of the load
    trusted = verify_files(folder, manifest) if verify else False
    check_model(manifest, model_id, fingerprint, root)
    try:
        chunks, articles = _read_records(folder, manifest, counted=not trusted)
        settings = IndexSettings.from_dict(manifest["settings"])
    except (RuntimeError, OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index {str(root)!r} is damaged ({exc}); rebuild it") from exc
    _check_counts(root, manifest, chunks, articles)
    vectors, native = open_vectors(
        root, folder, manifest, settings.store, chunks, check_ids=not trusted, warm=warm
    )
    if verify and not trusted:
        mark_consistent(folder, manifest)
    if warm and (folder / RECORDS).is_file():  # 27 -> 18 ms p50 at 1M from a cold cache
        warm_page_cache(folder / RECORDS)
    return LoadedIndex(root, folder, manifest, native, chunks, articles, vectors)


def _read_records(
    folder: Path, manifest: Mapping[str, Any], counted: bool = True
) -> tuple[ChunkRecords | MemoryChunks, ArticleRecords | dict[str, Article]]:
    """The chunk and article records of a generation: on demand from records.sqlite, or read
    whole from the JSONL files of a version-1 generation. Unless `counted`, the records file's
    rows are not counted (its positions were found to run 0..n-1 when it was last verified)."""
    if manifest["format_version"] >= 2:
        if not (folder / RECORDS).is_file():
            raise ValueError(f"{RECORDS} is missing")
        return open_records(folder / RECORDS, counted=counted)
    chunks = MemoryChunks(stored_chunk(row) for row in read_jsonl(folder / CHUNKS))
    articles = {a.id: a for a in (Article.from_dict(row) for row in read_jsonl(folder / ARTICLES))}
    return chunks, articles


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


VERIFIED = ".verified.json"  # each file's stat when its checksum last matched (see verify_files)
SETTLED_NS = 2_000_000_000  # a file changed this recently is never trusted by its stat alone
KEPT_ELSEWHERE = "generations"  # under cache_dir(): what loads keep for a read-only generation
KEPT_FOR = "generation.txt"  # in each of its folders: the path of the generation it is kept for


def derived_paths(generation: Path, name: str) -> tuple[Path, Path]:
    """Where loads keep what they learnt about a generation (`name`: the verification stamp,
    the abstention background): in the generation itself, or, when it cannot be written (an
    index mounted read-only), in the cache directory, under a digest of its resolved path.

    Without the second place a read-only ten-million-chunk index was checksummed in full
    (52 s) and cross-checked at every load. What is kept there is only ever trusted for files
    whose size, inode and times still match, like the stamp in the generation.
    """
    place = hashlib.sha256(os.fsencode(generation.resolve())).hexdigest()[:32]
    return generation / name, cache_dir() / KEPT_ELSEWHERE / place / name


def read_derived(generation: Path, name: str, accept: Callable[[Any], bool]) -> Any | None:
    """The first JSON document kept for `generation` under `name` that `accept` takes, or None."""
    return next(_all_derived(generation, name, accept), None)


def _all_derived(generation: Path, name: str, accept: Callable[[Any], bool]) -> Iterator[Any]:
    """Each JSON document kept for `generation` under `name` that `accept` takes, in the order
    of `derived_paths` (read as they are asked for)."""
    for path in derived_paths(generation, name):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if accept(data):
            yield data


def keep_derived(generation: Path, name: str, data: Any) -> bool:
    """Keep `data` for `generation` under `name`: in the generation, or where `derived_paths` says
    when that fails; False when it could be written nowhere (the next load then works it out
    again, which is slower, never wrong)."""
    own, elsewhere = derived_paths(generation, name)
    try:
        write_json(own, data, atomic=True)
        return True
    except OSError:
        pass
    folder = elsewhere.parent
    try:
        if not (folder / KEPT_FOR).is_file():  # the generation's first: clear out the gone ones'
            prune_derived()
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(folder / KEPT_FOR, f"{generation.resolve()}\n")
        write_json(elsewhere, data, atomic=True)
        return True
    except OSError:
        return False


def prune_derived() -> int:
    """Delete what the cache directory keeps for read-only generations that are gone (or that
    it cannot tell, kept before it noted its generation); return how many folders it deleted.

    A generation that comes back (a volume mounted again) is then checksummed and measured
    once more at its next load: slower, never wrong.
    """
    deleted = 0
    for folder in (cache_dir() / KEPT_ELSEWHERE).glob("*"):
        try:
            kept_for = Path((folder / KEPT_FOR).read_text(encoding="utf-8").strip())
        except FileNotFoundError:
            if time.time() - _mtime(folder) < 3600:
                continue  # being written now, or just was
        except (OSError, UnicodeDecodeError):
            continue
        else:
            if not kept_for.is_absolute() or kept_for.is_dir():
                continue
        shutil.rmtree(folder, ignore_errors=True)
        deleted += not folder.exists()
    return deleted


def verify_files(generation: Path, manifest: Mapping[str, Any], *, full: bool = False) -> bool:
    """Check that every file listed in the manifest exists with its size and checksum; return
    True when every file was trusted by its stamp and the stamp also says a load found the
    files consistent with each other (`mark_consistent`), so the load need not check that again.

    Reading every file is most of a large index's load (seconds a gigabyte), so a check that
    passes records each file's size, inode and modification and change times in the
    generation's VERIFIED stamp, and the next check (unless `full`) reads again only a file
    whose stat differs. Any write to a file moves its change time, which no tool can set
    back, so a file changed in place is always read again. A file changed less than
    SETTLED_NS before a check is not stamped (file times tick coarsely: a change within the
    same tick could leave them equal), and the stamp names the manifest it was made for.
    Damage that no write caused (a failing disk) shows only in a `full` check, as
    `python -m index info` runs it.
    """
    files = manifest["files"]
    key = _files_key(files)
    stamped, consistent = _read_stamp(generation, key)
    stamp = {} if full else stamped
    settled = time.time_ns() - SETTLED_NS
    trusted: dict[str, list[int]] = {}
    for name, expected in files.items():
        path = generation / name
        if not path.is_file():
            raise IndexCorruptError(
                f"index file {name!r} is missing from {str(generation)!r}; rebuild the index"
            )
        state = _stat(path)
        if stamp.get(name) != state and (
            state[0] != expected["bytes"] or sha256_file(path) != expected["sha256"]
        ):
            raise IndexCorruptError(
                f"index file {name!r} in {str(generation)!r} is damaged (checksum mismatch); rebuild the index"
            )
        if max(state[2], state[3]) < settled or stamped.get(name) == state:
            trusted[name] = state  # stamped states were settled (a link's new ctime aside)
    if trusted != stamped:
        keep_derived(generation, VERIFIED, {"manifest": key, "files": trusted})
        return False
    return consistent and set(trusted) == set(files)  # a full check of unchanged files keeps it


def mark_consistent(generation: Path, manifest: Mapping[str, Any]) -> None:
    """Record in the generation's stamp that a load found its files consistent with each other
    (the records' positions, the FAISS ids against the chunks), when every file is stamped as
    it is now; a later load then trusts that while the files stay unchanged (`verify_files`)."""
    files = manifest["files"]
    key = _files_key(files)
    stamp, consistent = _read_stamp(generation, key)
    if consistent or set(stamp) != set(files):
        return
    for name in files:
        path = generation / name
        if not path.is_file() or stamp[name] != _stat(path):
            return
    keep_derived(generation, VERIFIED, {"manifest": key, "files": stamp, "consistent": True})


def _stat(path: Path) -> list[int]:
    found = path.stat()
    return [found.st_size, found.st_ino, found.st_mtime_ns, found.st_ctime_ns]


def _files_key(files: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def _read_stamp(generation: Path, key: str) -> tuple[dict[str, list[int]], bool]:
    """The stats of the files a check found sound, when the stamp is for this manifest, and
    whether a load found those files consistent with each other."""
    stamps = list(
        _all_derived(
            generation,
            VERIFIED,
            lambda data: (
                isinstance(data, dict) and data.get("manifest") == key and isinstance(data.get("files"), dict)
            ),
        )
    )
    if not stamps:
        return {}, False
    stamp = stamps[0]
    if len(stamps) > 1:
        # the one whose files are as stamped: a read-only copy may carry its source's stamp, whose
        # inodes are not the copy's, beside the one a load of the copy kept in the cache directory
        stamp = max(
            stamps, key=lambda kept: sum(_same_stat(generation, n, s) for n, s in kept["files"].items())
        )
    return stamp["files"], stamp.get("consistent") is True


def _same_stat(generation: Path, name: str, stamped: Any) -> bool:
    try:
        return _stat(generation / name) == stamped
    except OSError:
        return False


def write_index(
    root: Path,
    *,
    articles: Sequence[Article],
    chunks: Sequence[StoredChunk],
    vectors: Rows,
    settings: IndexSettings,
    model: Mapping[str, Any],
    extra_files: Mapping[str, FileWriter] | None = None,
    extra_manifest: Mapping[str, Any] | None = None,
    texts: Sequence[str] | None = None,
    progress: bool = False,
    records: Path | None = None,
) -> Path:
    """Write a new generation from chunk vectors and make it live; return its directory.

    `vectors` is an array or a spool on disk read a slice at a time (index.store.spool); a
    spool is deleted as soon as the vector index holds its rows, since the rest of the write
    needs its disk (15 GB at ten million chunks). `records` is a records file already
    holding `articles` and `chunks` (a build's RecordSpool), moved into the generation
    instead of written again.
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
    if isinstance(vectors, VectorSpool):
        vectors.close()
    return write_generation(
        root,
        articles=articles,
        chunks=chunks,
        vectors=writer,
        settings=settings,
        model=model,
        extra_files=extra_files,
        extra_manifest=extra_manifest,
        records=records,
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
    records: Path | None = None,
) -> Path:
    """Write a new generation around its ready vectors and make it live; return its directory.

    `vectors` (index.store.backends) must hold exactly the vids of `chunks`; once the
    generation is live it is published (the Milvus alias switched). `next_vid` is the first
    vid never used yet (vids are not reused, so a stale reference can never name another
    chunk). `records`: as for `write_index`. The caller must hold the write lock (see `writer_lock`).
    """
    if vectors.ntotal != len(chunks):
        raise ValueError(f"{len(chunks)} chunks but {vectors.ntotal} vectors")
    with _new_generation(root, vectors.publish) as staging:
        for name, writer in vectors.files().items():
            _stage("faiss", name)
            writer(staging / name)
        _stage("chunks", RECORDS)
        if records is not None:
            take_records(records, staging / RECORDS)
        else:
            write_records(staging / RECORDS, articles, chunks)
        for name, writer in (extra_files or {}).items():
            _stage(name, name)
            writer(staging / name)
        floor = max((c.vid for c in chunks), default=-1) + 1
        counts = {"articles": len(articles), "chunks": len(chunks), "next_vid": max(next_vid or 0, floor)}
        manifest = _manifest(
            staging, counts, vectors.dimension, settings, model, vectors.manifest(), extra_manifest
        )
        _stage("manifest", MANIFEST)
        write_json(staging / MANIFEST, manifest)
    return root / staging.name


def take_records(source: Path, target: Path) -> None:
    """Move a build's records file (a RecordSpool's, on the same file system) into its generation."""
    os.replace(source, target)


def stage_hook(stage: str) -> None:
    """Called before each step of writing a generation, and with "swapped" once CURRENT names the
    new one; does nothing (tests slow it down, or stop it there, to kill a writer)."""


_step: ContextVar[str] = ContextVar("wenda_write_step", default="the new generation")


def _stage(stage: str, what: str) -> None:
    """Record which file is being written (for a disk-full message), then call `stage_hook`."""
    _step.set(what)
    stage_hook(stage)


def remove_stale(root: Path, keep: Iterable[str] = ()) -> None:
    """Delete what killed or failed writers left behind.

    That is: generation directories that CURRENT does not name and that are not in `keep`
    (the caller passes the previous generation, or generations a reader still holds), staging
    directories (index.files.staged_dir), parked old directories (index.files.replace_dir) and
    CURRENT temporaries (index.files.write_text_atomic). Only what is older than the writer
    lock's acquisition is touched, and only a writer holding the lock may call this, so
    nothing deleted is still being written.
    """
    if not root.is_dir():
        return
    keep = {*keep, _pointer_name(root)}
    since = lock_time(root)
    for path in root.iterdir():
        name = path.name
        ours = _GENERATION_NAME.fullmatch(name) or name.startswith((".staging-", ".gen-", f".{CURRENT}."))
        if not ours or name in keep or path.is_symlink() or _mtime(path) >= since:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _pointer_name(root: Path) -> str:
    """The name CURRENT holds ('' when there is none)."""
    try:
        return (root / CURRENT).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return float("inf")


def update_settings(root: Path, settings: IndexSettings, note: Mapping[str, Any] | None = None) -> Path:
    """Make a new generation with the same files and new settings in its manifest.

    Files are hard-linked (copied where links are not possible), so this is cheap and atomic.
    The caller must hold the write lock.
    """
    current = live_generation(root)
    manifest = _manifest_of(root, current)
    verify_files(current, manifest)
    with _new_generation(root) as staging:
        for name in manifest["files"]:
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(current / name, target)
        _stamp_links(current, staging, manifest["files"])
        write_json(staging / MANIFEST, {**manifest, "settings": settings.to_dict(), **(note or {})})
    return root / staging.name


def _stamp_links(source: Path, target: Path, files: Mapping[str, Any]) -> None:
    """Carry `source`'s verification stamp over to the files hard-linked into `target`.

    A link moves a file's change time, so without this the first load after a settings
    change read every file again (52 s at ten million chunks) and cross-checked them, though
    not a byte had changed. A file is carried over only when it is the stamped one: same
    inode, size and modification time (a copy, or a file written since, is read again).
    The source generation's stamp is renewed the same way, for the readers still on it.
    """
    key = _files_key(files)
    stamp, consistent = _read_stamp(source, key)
    moved = {}
    for name in files:
        linked = _stat(target / name)
        if name in stamp and stamp[name][:3] == linked[:3]:
            moved[name] = linked
    if not moved:
        return
    whole = consistent and set(moved) == set(files)
    for generation in (target, source):
        keep_derived(generation, VERIFIED, {"manifest": key, "files": moved, "consistent": whole})


@contextmanager
def _new_generation(
    root: Path, publish: Callable[[Sequence[Mapping[str, Any]]], None] | None = None
) -> Iterator[Path]:
    """Yield the directory to write a new generation into; when the block succeeds it goes live,
    and then `publish` is called with the `store` sections of the older generations kept (the
    previous one and those a server holds a lease on).

    The caller must hold the write lock. What killed writers left is removed first. When the
    disk fills up, whatever was written is removed, the previous generation stays live and
    DiskFullError names the file being written.
    """
    root.mkdir(parents=True, exist_ok=True)
    remove_stale(root, keep=leased_generations(root, prune=True))
    generation = root / _generation_name()
    token = _step.set("the new generation")
    try:
        with staged_dir(generation, sync=True) as scratch:
            staging = scratch / generation.name
            staging.mkdir()
            try:
                yield staging
            except OSError as exc:  # judged now, while what was written still fills the disk
                raise _write_error(exc, root) from exc
            _stage("rename", "the new generation")
        kept = _make_live(root, generation)
    except OSError as exc:
        if generation.is_dir() and _pointer_name(root) != generation.name:
            shutil.rmtree(generation, ignore_errors=True)  # written, but never made live
        if (error := _write_error(exc, root)) is exc:
            raise
        raise error from exc
    finally:
        _step.reset(token)
    if publish is not None:
        publish(kept)


def _write_error(exc: OSError, root: Path) -> OSError:
    """The error to raise for a failed write: DiskFullError when the disk is full, else an
    IndexWriteError naming the file being written (`exc` itself when it is one already)."""
    if isinstance(exc, IndexWriteError):
        return exc
    what = f"{_step.get()} of index {str(root)!r}"
    if is_disk_full(exc, root):
        return DiskFullError(
            f"disk full while writing {what}: free space and retry (the previous index is unchanged)"
        )
    reason = exc.strerror or one_line(exc)
    return IndexWriteError(f"could not write {what} ({reason}); the previous index is unchanged")


def _make_live(root: Path, generation: Path) -> list[dict[str, Any]]:
    """Point CURRENT at `generation` with one atomic rename, and drop superseded generations;
    return the `store` sections of the older generations kept.

    The previous generation stays one round, for readers that resolved CURRENT just before the
    swap, and so does every generation a running server holds a lease on.
    """
    previous = _pointer_name(root)
    _stage("swap", CURRENT)
    write_text_atomic(root / CURRENT, generation.name + "\n")
    stage_hook("swapped")
    kept = ({previous} | leased_generations(root, prune=True)) - {"", generation.name}
    remove_stale(root, keep={generation.name} | kept)
    return [store for name in sorted(kept) if (store := _store_section(root / name)) is not None]


def _store_section(generation: Path) -> dict[str, Any] | None:
    """The `store` section of a generation's manifest (None when it cannot be read)."""
    try:
        manifest = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(manifest, dict):
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


def _check_format(root: Path, manifest: Any) -> None:
    if not isinstance(manifest, dict):
        raise IndexCorruptError(
            f"index {str(root)!r}: {MANIFEST} holds a JSON {type(manifest).__name__}, not an object; "
            "rebuild the index"
        )
    version = manifest.get("format_version")
    if manifest.get("format") != "wenda-index" or isinstance(version, bool) or version not in READ_VERSIONS:
        raise IndexCorruptError(
            f"index {str(root)!r} has format {manifest.get('format')!r} version {version!r}; "
            f"this program reads wenda-index versions {', '.join(map(str, READ_VERSIONS))}: rebuild the index"
        )


def _check_counts(root: Path, manifest: Mapping[str, Any], chunks: Sized, articles: Sized) -> None:
    counts = manifest["counts"]
    if counts["chunks"] != len(chunks) or counts["articles"] != len(articles):
        raise IndexCorruptError(
            f"index {str(root)!r} is inconsistent ({len(chunks)} chunks, "
            f"{len(articles)} articles; manifest says {counts}): rebuild it"
        )


def _generation_name() -> str:
    return f"gen-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
