"""Build an index with Ray Data: the corpus files are read and chunked by Ray tasks, and the
chunks embedded by a pool of actors that each hold the model; the driver then writes the
index exactly as a local build does (same chunk ids, vids, keyword index and store).

`python -m index build --ray` starts a local Ray bound to 127.0.0.1 (no dashboard, no usage
reporting) and stops it afterwards; `--ray ADDRESS` joins a running cluster (KubeRay in
production), where every node must see the corpus at the same path. Actors ask for half a
CPU each, so two of them fit on a 2-core machine beside the tasks that feed them. A worker
that dies is replaced by Ray (actor pools restart their actors and retry their batches), and
since a chunk's vector depends only on its text, the result is the one of a single-process
build. Needs the `ray` extra: `pip install 'wenda[ray]'`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from index.build import build_id_root, corpus_manifest, write_locked
from index.documents import Article, Chunk
from index.embed import Embedder, make_embedder
from index.errors import CorpusError, missing_extra
from index.files import writer_lock
from index.ingest import IngestReport, corpus_files, drop_duplicate_ids, read_corpus
from index.settings import EmbedSettings, IndexSettings
from index.writer import EMBED_BATCH, BuildReport, chunks_with_texts

EmbedderFactory = Callable[[EmbedSettings], Embedder]
READ_BATCH = 8  # corpus files per read-and-chunk task


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run: `address` None starts a local Ray on 127.0.0.1."""

    address: str | None = None
    workers: int = 2  # embedding actors, each holding one copy of the model
    cpus_per_actor: float = 0.5  # fractional, so a 2-core machine never waits for a third core
    batch_size: int = EMBED_BATCH  # chunks per actor call

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"--ray-workers={self.workers}: use at least 1 embedding actor")
        if not 0 < self.cpus_per_actor <= 64:
            raise ValueError(f"cpus_per_actor={self.cpus_per_actor} must be above 0")


def ray_module() -> Any:
    """The ray package with Ray Data, or MissingExtraError naming the `ray` extra."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise missing_extra("Building with --ray", "ray", exc) from exc
    return ray


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Any]:
    """A connected Ray: the caller's when one is running, else a local one or the cluster at
    `options.address`; what this starts it also shuts down."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never report usage over the network
    if not options.address:
        # A single-machine Ray: every address is 127.0.0.1 (read by ray when it is imported).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = ray_module()
    if ray.is_initialized():
        yield ray
        return
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
    if options.address:
        ray.init(address=options.address, **quiet)
    else:
        ray.init(_node_ip_address="127.0.0.1", **quiet)
    try:
        yield ray
    finally:
        ray.shutdown()


def ray_build_index(
    corpus: Path | Sequence[Path],
    index_dir: Path,
    settings: IndexSettings | None = None,
    options: RayOptions | None = None,
    progress: bool = True,
    embedder_factory: EmbedderFactory | None = None,
    echo: Callable[[str], None] | None = None,
) -> BuildReport:
    """Index every readable file of `corpus` into `index_dir` with Ray; like `build_index`
    (the writer lock is held from before the first file is read; `echo` gets each skipped
    file or line and each note).

    `embedder_factory` makes each actor's embedder from the embedding settings (default:
    `make_embedder`); it is pickled to the workers.
    """
    started = time.perf_counter()
    settings = settings or IndexSettings()
    options = options or RayOptions()
    roots = [corpus] if isinstance(corpus, Path) else list(corpus)
    ingest = IngestReport(echo=echo)
    files = [f for root in roots for f in corpus_files(root, ingest)]
    if not files:
        names = ", ".join(repr(str(r)) for r in roots)
        raise CorpusError(f"no .txt, .md, .html or .jsonl file in {names}: point --corpus at your articles")
    factory = embedder_factory or partial(make_embedder, progress=False)
    with writer_lock(index_dir), ray_session(options) as ray:
        _quiet_ray_data(ray)
        articles, chunked = read_and_chunk(ray, files, build_id_root(roots), settings, options, ingest)
        if not articles:
            raise CorpusError(ingest.nothing_read(roots))
        embedder = RayEmbedder(ray, factory, settings.embed, options)
        extra = corpus_manifest(roots)
        report = write_locked(index_dir, articles, settings, embedder, progress, extra, chunked=chunked)
    report.skipped = ingest.skipped
    report.notes = ingest.notes
    report.seconds = time.perf_counter() - started
    return report


def read_and_chunk(
    ray: Any,
    files: Sequence[Path],
    id_root: Path | None,
    settings: IndexSettings,
    options: RayOptions,
    report: IngestReport,
) -> tuple[list[Article], list[list[tuple[Chunk, str]]]]:
    """Read and chunk the files with Ray tasks. Articles come back in file order and what was
    skipped or noted goes into `report`, as a local read does (`read_corpus`); an id an
    earlier file already gave is dropped here, where the order is known."""
    items = [{"number": n, "path": str(path)} for n, path in enumerate(files)]
    blocks = max(1, min(len(items), 4 * options.workers))
    dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
        _read_files,
        fn_kwargs={"id_root": str(id_root) if id_root else None, "settings": settings.to_dict()},
        batch_size=READ_BATCH,
        batch_format="numpy",
        num_cpus=options.cpus_per_actor,
    )
    rows = sorted(dataset.take_all(), key=lambda r: (r["number"], r["position"]))
    report.files += len(files)
    pieces: dict[int, list[tuple[Chunk, str]]] = {}
    found: list[Article] = []
    for row in rows:
        if row["kind"] == "skip":
            report.skip(row["where"], row["message"])
        elif row["kind"] == "note":
            report.note(row["where"], row["message"])
        else:
            article = Article.from_dict(json.loads(row["article"]))
            pieces[id(article)] = [(Chunk.from_dict(c), t) for c, t in json.loads(row["chunks"])]
            found.append(article)
    articles = drop_duplicate_ids(found, report)
    report.articles = len(articles)
    return articles, [pieces[id(a)] for a in articles]


def _read_files(
    batch: dict[str, np.ndarray], id_root: str | None, settings: dict[str, Any]
) -> dict[str, np.ndarray]:
    """A Ray task: read a batch of corpus files and chunk their articles. One row per article,
    and one per thing skipped or noted (kind `skip` or `note`), numbered in reading order."""
    parsed = IndexSettings.from_dict(settings)
    root = Path(id_root) if id_root else None
    names = ("number", "position", "kind", "where", "message", "article", "chunks")
    columns: dict[str, list[Any]] = {name: [] for name in names}

    def add(
        number: int, kind: str, where: str = "", message: str = "", article: str = "", chunks: str = ""
    ) -> None:
        position = sum(1 for n in columns["number"] if n == number)
        for name, value in zip(names, (number, position, kind, where, message, article, chunks)):
            columns[name].append(value)

    for number, path in zip(batch["number"].tolist(), batch["path"].tolist()):
        report = IngestReport()
        found, _ = read_corpus([Path(path)], root=root, steps=parsed.clean.steps, report=report)
        for where, reason in report.skipped:
            add(number, "skip", where, reason)
        for where, message in report.notes:
            add(number, "note", where, message)
        for article in found:
            cut = [[c.to_dict(), t] for c, t in chunks_with_texts(article, parsed)]
            text = json.dumps(article.to_dict(), ensure_ascii=False)
            add(number, "article", article=text, chunks=json.dumps(cut, ensure_ascii=False))
    return {
        name: np.asarray(values, dtype=np.int64 if name in ("number", "position") else object)
        for name, values in columns.items()
    }


class RayEmbedder:
    """An Embedder whose passages are embedded by a Ray actor pool (`embed_batches`).

    Its identity (model id, fingerprint, dimension, prompts, backend) is asked of one worker,
    so the driver never loads the model. Queries are not its business.
    """

    def __init__(
        self, ray: Any, factory: EmbedderFactory, settings: EmbedSettings, options: RayOptions
    ) -> None:
        self.ray, self.factory, self.settings, self.options = ray, factory, settings, options
        remote = ray.remote(num_cpus=options.cpus_per_actor, max_retries=3)(_identity)
        identity = ray.get(remote.remote(factory, settings))
        self.model_id: str = identity["model_id"]
        self.fingerprint: str = identity["fingerprint"]
        self.dimension: int = identity["dimension"]
        self.backend: str = identity["backend"]
        self.prompts: dict[str, Any] = identity["prompts"]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("a Ray embedder embeds passages for a build; queries use the local model")

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Embed passages on the actor pool, all at once."""
        parts = list(self.embed_batches(texts, self.options.batch_size))
        return np.concatenate(parts) if parts else np.zeros((0, self.dimension), dtype=np.float32)

    def embed_batches(self, texts: Sequence[str], batch_size: int) -> Iterator[np.ndarray]:
        """The vectors of `texts`, in order, batch by batch as the actors finish them.

        An actor call holds at most `options.batch_size` chunks, or fewer when the caller asks
        for smaller batches (a server's build, whose progress should move). The texts are split
        into enough blocks for every actor of the pool to get some.
        """
        if not texts:
            return
        ray = self.ray
        batch_size = max(1, min(batch_size, self.options.batch_size))
        items = [{"row": i, "text": t} for i, t in enumerate(texts)]
        blocks = max(1, min(len(items) // max(1, batch_size) + 1, 8 * self.options.workers))
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            _EmbedActor,
            fn_constructor_args=(self.factory, self.settings),
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.options.workers),
            num_cpus=self.options.cpus_per_actor,
        )
        expected = 0
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            rows = np.asarray(batch["row"])
            if not np.array_equal(rows, np.arange(expected, expected + len(rows))):
                raise RuntimeError("Ray Data returned the embeddings out of order (preserve_order is off)")
            expected += len(rows)
            yield np.stack(batch["vector"]).astype(np.float32)


class _EmbedActor:
    """A Ray actor holding one embedding model; embeds one batch of chunks per call."""

    def __init__(self, factory: EmbedderFactory, settings: EmbedSettings) -> None:
        self.embedder = factory(settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.embed_passages([str(t) for t in batch["text"]], progress=False)
        return {"row": batch["row"], "vector": np.asarray(vectors, dtype=np.float32)}


def _identity(factory: EmbedderFactory, settings: EmbedSettings) -> dict[str, Any]:
    """A Ray task: what the manifest records of the model (loaded on a worker, then dropped)."""
    embedder = factory(settings)
    return {
        "model_id": embedder.model_id,
        "fingerprint": embedder.fingerprint,
        "dimension": int(embedder.dimension),
        "backend": getattr(embedder, "backend", "torch"),
        "prompts": dict(getattr(embedder, "prompts", {}) or {}),
    }


def _quiet_ray_data(ray: Any) -> None:
    """Ray Data keeps results in order and draws no progress bars of its own (the build draws one)."""
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False
