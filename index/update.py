"""Update an index without a rebuild: add, replace and remove articles.

An update starts from the live generation: unchanged articles keep their chunks and FAISS
ids; a changed article keeps the ids of its chunks whose embedded text did not change;
everything else gets new ids (never reused: `next_vid` in the manifest only grows). A flat
index is updated in place with `remove_ids`/`add_with_ids`. An HNSW graph cannot drop a
node, so when an update removes vectors from an HNSW index (or the size crosses the `auto`
threshold), the FAISS index is rebuilt from the stored vectors (reconstructed, never
re-embedded); adding to an HNSW index without removing is done in place. The BM25 index is
recomputed over the whole chunk list in the same generation (from stored tokens), so both
retrievers always agree. Every update writes a new generation and swaps it in under the
writer lock, like a build, so a crash leaves the previous index live.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from index.chunk import embed_text
from index.documents import Article, content_hash
from index.embed import Embedder, make_embedder
from index.errors import CorpusError, UnknownArticleError
from index.ingest import IngestReport, corpus_files, drop_duplicate_ids, family_id, read_corpus
from index.progress import OnProgress, report
from index.settings import IndexSettings
from index.store import (
    LoadedIndex,
    StoredChunk,
    check_model,
    load_index,
    read_manifest,
    write_generation,
    writer_lock,
)
from index.store.added import added_file, added_times, read_added
from index.store.backends import VectorWriter, store_words, updated_vectors
from index.store.keyword_writer import TokenSpool
from index.store.spool import EmbedCache
from index.writer import BuildReport, chunks_with_texts, keyword_files, stored_tokens, tokens_of, vectors_for


@dataclass
class _Plan:
    """What an update does to each article, decided before anything is embedded."""

    articles: list[Article]  # the final article list, in index order
    changed: dict[str, Article]  # new or replaced articles (need chunking)
    added: list[str]
    replaced: list[str]
    removed: list[str]
    unchanged: list[str]
    # same text, other metadata (extras, path): rewritten, not re-embedded
    metadata_only: list[str] = field(default_factory=list)


def update_index(
    index_dir: Path,
    add: Sequence[Path] = (),
    remove: Sequence[str] = (),
    *,
    root: Path | None = None,
    embedder: Embedder | None = None,
    embedder_factory: Callable[[IndexSettings], Embedder] | None = None,
    progress: bool = True,
    on_progress: OnProgress | None = None,
    echo: Callable[[str], None] | None = None,
) -> BuildReport:
    """Add or replace the articles of files `add` and remove articles `remove`, without a rebuild.

    Article ids of added files are their paths relative to `root`, or else to the corpus
    directory the index was built from (when the file lies under it), or else their file
    names; re-adding an article with the same id replaces it, and re-adding a file that held
    several articles (`name#1`, `name#2`, …) replaces all of them. Nothing is embedded for an
    unchanged chunk; the embedding model is loaded only if something must be embedded.
    What is skipped (or read differently) is passed to `echo` as it happens. `on_progress`
    hears the files read, the changed articles chunked, the chunks embedded and the write.

    Raises:
        IndexNotFoundError: no index at `index_dir`.
        UnknownArticleError: an id in `remove` is not in the index.
        CorpusError: no readable file in `add`.
        IndexLockedError: another writer holds the index.
        DiskFullError: the disk filled up (the previous index stays live).
    """
    started = time.perf_counter()
    read_manifest(index_dir)  # a missing index is reported before anything else
    with writer_lock(index_dir):
        # read under the lock, so a concurrent writer's change (e.g. calibrated settings) is kept
        previous = load_index(index_dir)
        settings = previous.settings
        if embedder is not None:
            check_model(previous.manifest, embedder.model_id, embedder.fingerprint, index_dir)
        new_articles, ingest = _read_added(add, root, previous.manifest, settings, echo, on_progress)
        plan = _plan(previous, new_articles, remove)
        lazy = _LazyEmbedder(embedder, embedder_factory, settings, previous, index_dir, progress)
        model = previous.manifest["model"]
        cache = EmbedCache(index_dir, model["fingerprint"], int(model["dimension"]))
        tokens = TokenSpool.beside(index_dir)
        try:
            result = _apply(previous, plan, settings, lazy, progress, on_progress, cache, tokens)
            if result.vectors is not None:  # else nothing changed: the live generation stays
                report(on_progress, "write", 0, 1)
                _write(index_dir, previous, plan, result)
                report(on_progress, "write", 1, 1)
        finally:
            shutil.rmtree(tokens.scratch, ignore_errors=True)
        cache.clear()  # what it held is live now (or was never needed)
    return _report(index_dir, plan, result, ingest, time.perf_counter() - started)


def _write(index_dir: Path, previous: LoadedIndex, plan: _Plan, result: _Result) -> None:
    """Write the updated index as a new generation and make it live (the caller holds the lock)."""
    assert result.vectors is not None  # _apply returns vectors whenever something changed
    result.written = write_generation(
        index_dir,
        articles=plan.articles,
        chunks=result.chunks,
        vectors=result.vectors,
        settings=previous.settings,
        model=previous.manifest["model"],
        extra_files={
            **keyword_files(result.tokens),
            **added_file(added_times(read_added(previous), plan.articles, plan.changed)),
        },
        extra_manifest=_kept_manifest(previous.manifest, plan, result),
        next_vid=result.next_vid,
    )


def _report(
    index_dir: Path, plan: _Plan, result: _Result, ingest: IngestReport, seconds: float
) -> BuildReport:
    """What the update did, for people and tests."""
    counts = len(plan.articles), len(result.chunks), result.embedded, result.reused
    summary = BuildReport(index_dir, *counts, seconds)
    summary.skipped, summary.notes = ingest.skipped, ingest.notes
    summary.added, summary.replaced, summary.removed = plan.added, plan.replaced, plan.removed
    summary.unchanged = plan.unchanged
    summary.faiss = f"{result.store} {result.action}"
    return summary


def _read_added(
    paths: Sequence[Path],
    root: Path | None,
    manifest: Mapping[str, Any],
    settings: IndexSettings,
    echo: Callable[[str], None] | None = None,
    on_progress: OnProgress | None = None,
) -> tuple[list[Article], IngestReport]:
    """Read the files to add, each with the id base the build would have given it.

    An id given twice is kept by the first file read (as in a build); the later one is skipped.
    `on_progress` hears each file (or folder) of `paths` read.
    """
    ingest = IngestReport(echo=echo)
    articles: list[Article] = []
    first: dict[str, Article] = {}
    for done, path in enumerate(paths, 1):
        base = _id_root(path, root, manifest)
        found, _ = read_corpus(
            corpus_files(path, ingest), root=base, steps=settings.clean.steps, report=ingest
        )
        articles.extend(drop_duplicate_ids(found, ingest, first))
        report(on_progress, "read", done, len(paths))
    if paths and not articles:
        raise CorpusError(ingest.nothing_read(paths))
    ingest.articles = len(articles)
    return articles, ingest


def _id_root(path: Path, root: Path | None, manifest: Mapping[str, Any]) -> Path | None:
    """The directory article ids of `path` are relative to."""
    if root is not None:
        return root
    built = manifest.get("corpus", {}).get("id_root")
    if built and Path(built).is_dir() and path.resolve().is_relative_to(Path(built)):
        return Path(built)
    return path if path.is_dir() else None


def _plan(previous: LoadedIndex, new_articles: Sequence[Article], remove: Sequence[str]) -> _Plan:
    """Decide which articles are added, replaced, removed or unchanged."""
    old = previous.articles
    unknown = [a for a in remove if a not in old]
    if unknown:
        raise UnknownArticleError(_unknown_ids(unknown, old))
    incoming = {a.id: a for a in new_articles}
    superseded = _superseded(old, new_articles)
    dropped = set(remove) | superseded
    changed = {i: a for i, a in incoming.items() if i not in old or old[i].content_hash != a.content_hash}
    final = [incoming.get(i, a) for i, a in old.items() if i not in dropped or i in incoming]
    final += [a for i, a in incoming.items() if i not in old]
    return _Plan(
        articles=final,
        changed=changed,
        added=[i for i in incoming if i not in old],
        replaced=[i for i in changed if i in old],
        removed=[i for i in dict.fromkeys(remove) if i not in incoming] + sorted(superseded - set(remove)),
        unchanged=[i for i in incoming if i in old and i not in changed],
        metadata_only=[
            i for i in incoming if i in old and i not in changed and old[i].to_dict() != incoming[i].to_dict()
        ],
    )


def _superseded(old: Mapping[str, Article], new_articles: Sequence[Article]) -> set[str]:
    """Articles of a re-added file (`name`, `name#1`, …) that its new version no longer has.

    Only files whose ids come from their path (txt, md, html) form such families; jsonl
    records carry their own ids and are replaced one by one.
    """
    families = {family_id(a.id) for a in new_articles if not _from_jsonl(a)}
    incoming = {a.id for a in new_articles}
    return {
        i for i, a in old.items() if i not in incoming and family_id(i) in families and not _from_jsonl(a)
    }


def _from_jsonl(article: Article) -> bool:
    return (article.path or "").lower().endswith(".jsonl")


def _unknown_ids(unknown: Sequence[str], old: Mapping[str, Article]) -> str:
    """The error for ids to remove that the index does not hold, with close matches."""
    hints = [i for i in old if any(i.startswith(u) or u.startswith(i) for u in unknown)][:5]
    hint = (
        f"; did you mean {', '.join(map(repr, hints))}?"
        if hints
        else "; `python -m index info --index DIR --articles` lists them"
    )
    return f"no article {', '.join(map(repr, unknown))} in the index{hint}"


class _LazyEmbedder:
    """Loads the index's embedding model only when a text actually has to be embedded."""

    def __init__(
        self, embedder, factory, settings: IndexSettings, previous: LoadedIndex, root: Path, progress: bool
    ):
        self._embedder, self._factory, self._settings = embedder, factory, settings
        self._previous, self._root, self._progress = previous, root, progress

    def get(self) -> Embedder:
        if self._embedder is None:
            factory = self._factory or (lambda s: make_embedder(s.embed, progress=self._progress))
            self._embedder = factory(self._settings)
            check_model(
                self._previous.manifest, self._embedder.model_id, self._embedder.fingerprint, self._root
            )
        return self._embedder


@dataclass
class _Result:
    """The new content of the index after an update."""

    chunks: list[StoredChunk]
    tokens: TokenSpool
    vectors: VectorWriter | None
    store: str  # the store in words, e.g. "FAISS flat"
    action: str  # what was done to it, in words
    embedded: int
    reused: int
    next_vid: int
    written: Path | None = None


def _apply(
    previous: LoadedIndex,
    plan: _Plan,
    settings: IndexSettings,
    lazy: _LazyEmbedder,
    progress: bool,
    on_progress: OnProgress | None,
    cache: EmbedCache,
    tokens: TokenSpool,
) -> _Result:
    """Chunk the changed articles, reuse what is unchanged, embed the rest (each batch into
    the durable `cache`), update the vectors; the keyword tokens go to `tokens`."""
    old_by_article: dict[str, list[StoredChunk]] = {}
    for stored in previous.chunks:
        old_by_article.setdefault(stored.chunk.article_id, []).append(stored)
    known_tokens = stored_tokens(previous)
    next_vid = int(previous.manifest.get("next_vid", 0))
    next_vid = max(next_vid, max((c.vid for c in previous.chunks), default=-1) + 1)
    chunks: list[StoredChunk] = []
    fresh: list[tuple[int, str]] = []  # (position in chunks, embedded text) of chunks needing a vector
    touched: list[tuple[int, Article, str]] = []  # every chunk of a changed article, with its embedded text
    chunked = 0
    for article in plan.articles:
        if article.id not in plan.changed:
            for stored in old_by_article.get(article.id, []):
                chunks.append(stored)
                text_of = partial(
                    embed_text, stored.chunk, article, settings.chunk
                )  # only for an older index
                tokens.add(tokens_of(known_tokens, stored.embed_hash, text_of))
            continue
        kept = _by_hash(old_by_article.get(article.id, []))
        for chunk, text in chunks_with_texts(article, settings):
            digest = content_hash(text)
            if kept.get(digest):
                vid = kept[digest].pop().vid  # same text as before: keep its id and vector
            else:
                vid, next_vid = next_vid, next_vid + 1
                fresh.append((len(chunks), text))
            touched.append((len(chunks), article, text))
            chunks.append(StoredChunk(chunk, vid, digest))
            tokens.add(tokens_of(known_tokens, digest, text))
        chunked += 1
        report(on_progress, "chunk", chunked, len(plan.changed))
    items = [(chunks[position].embed_hash, text) for position, text in fresh]
    new_vectors, embedded = vectors_for(
        items, previous, lazy.get, previous.vectors.dimension, progress, on_progress, cache
    )
    store = store_words(previous.manifest)
    if not (plan.changed or plan.removed or plan.metadata_only):
        return _Result(chunks, tokens, None, store, "unchanged (nothing to write)", 0, len(chunks), next_vid)
    fresh_positions = [position for position, _ in fresh]
    vectors, action = updated_vectors(
        previous, chunks, fresh_positions, new_vectors, touched, settings.store, progress
    )
    return _Result(chunks, tokens, vectors, store, action, embedded, len(chunks) - embedded, next_vid)


def _by_hash(chunks: Iterable[StoredChunk]) -> dict[str, list[StoredChunk]]:
    """Stored chunks grouped by embed hash (a passage can repeat within an article)."""
    out: dict[str, list[StoredChunk]] = {}
    for stored in chunks:
        out.setdefault(stored.embed_hash, []).append(stored)
    return out


def _kept_manifest(manifest: Mapping[str, Any], plan: _Plan, result: _Result) -> dict[str, Any]:
    """Manifest entries an update carries over, plus a record of the change."""
    change = {
        "kind": "update",
        "added": len(plan.added),
        "replaced": len(plan.replaced),
        "removed": len(plan.removed),
        "embedded": result.embedded,
        "reused": result.reused,
        "faiss": result.action,
    }
    kept = {k: manifest[k] for k in ("corpus",) if k in manifest}
    return {**kept, "change": change}
