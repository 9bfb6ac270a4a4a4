"""Milvus, and nothing else: the vectors, texts and BM25 fields of a generation in one collection.

Only this module imports pymilvus (the `milvus` extra: `pip install 'wenda[milvus]'`). The
URI is a local `.db` path (Milvus Lite, in the process) or `http://host:19530` (a Milvus
Lite server, Milvus standalone or a cluster); the token comes from a file or the
environment, never from the command line or the manifest.

Each generation writes its own collection, `<alias>__<time>_<hex>`: chunk id (the content
hash, primary key), vid, article id, text, section and citation fields, the embedding
(HNSW over cosine; HNSW_SQ or IVF_SQ8 for memory) and two BM25 functions: one over the
embedded text folded to simplified characters with the `jieba` tokenizer, one over its
character bigrams (whitespace-separated; what the FAISS store's keyword index adds so that
a name jieba cuts wrongly still matches). The collection is complete, indexed and loaded
before its generation goes live; then the alias `<alias>` is switched to it and superseded
collections are dropped (a kept generation keeps its collection: the previous one for a
round, and any a running server holds a lease on). A collection left by a killed build is
never served (no manifest names it) and is dropped by the next writer. An update upserts rows by chunk id into the live collection before its
generation goes live (readers of the older generation ignore vids they do not know) and
deletes the rows it dropped afterwards; the deletes are listed in the new manifest, so a
writer killed between the two is finished by the next one.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from math import gcd, lcm
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.documents import Article, Chunk
from index.errors import IndexCorruptError, StoreUnavailableError, missing_extra
from index.settings import MILVUS_TOKEN_ENV, StoreSettings
from index.text import STOPWORDS, bigrams, runs

INSERT_BATCH = 500  # rows per insert/upsert call (about 2 MB with 384-dim vectors)
QUERY_BATCH = 1000  # vids per query when vectors are read back
MAX_ROUTES = 12  # search requests one hybrid search may repeat to weight its routes
TEXT_BYTES = 65_535  # Milvus VARCHAR limit, in UTF-8 bytes
SHORT_BYTES = 2_048
JIEBA = {"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": sorted(STOPWORDS)}]}
# Milvus's `whitespace` tokenizer keeps a bigram whole; Milvus Lite has only `standard` and
# `jieba`, and its `standard` (\w+) keeps it whole too. A cluster's `standard` would cut it.
BIGRAM_ANALYZERS = {"cluster": {"tokenizer": "whitespace"}, "lite": {"tokenizer": "standard"}}


class HasChunk(Protocol):
    """A stored chunk: the chunk and its vid (index.store.StoredChunk)."""

    @property
    def chunk(self) -> Chunk: ...

    @property
    def vid(self) -> int: ...


def pymilvus() -> Any:
    """The pymilvus module, or MissingExtraError naming the `milvus` extra."""
    try:
        import pymilvus as module
    except ImportError as exc:
        raise missing_extra("The Milvus store", "milvus", exc) from exc
    return module


def read_token(settings: StoreSettings) -> str:
    """The Milvus token: the content of `milvus_token_file`, else $WENDA_MILVUS_TOKEN, else none."""
    if settings.milvus_token_file:
        path = Path(settings.milvus_token_file).expanduser()
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StoreUnavailableError(f"cannot read the Milvus token file {str(path)!r} ({exc})") from exc
    return os.environ.get(MILVUS_TOKEN_ENV, "").strip()


def normalized_uri(uri: str) -> str:
    """A server URI as given; a local Milvus Lite path made absolute (it must end in `.db`)."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", uri) or uri.startswith("unix:"):
        return uri
    if not uri.endswith(".db"):
        raise ValueError(
            f"Milvus URI {uri!r}: give http://HOST:19530 for a server, or a local path ending in .db for Milvus Lite"
        )
    return str(Path(uri).expanduser().resolve())


def default_alias(root: Path) -> str:
    """The Milvus alias of the index at `root` when none is given: `wenda_<directory name>`."""
    name = re.sub(r"\W", "_", root.resolve().name, flags=re.ASCII).strip("_") or "index"
    return f"wenda_{name}"[:200]


def connect(settings: StoreSettings) -> Any:
    """A MilvusClient for the store's URI (raises StoreUnavailableError when it cannot connect)."""
    module = pymilvus()
    uri = normalized_uri(settings.milvus_uri or "")
    if uri.endswith(".db"):
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return module.MilvusClient(uri=uri, token=read_token(settings), timeout=30)
    except module.MilvusException as exc:
        raise StoreUnavailableError(
            f"cannot connect to Milvus at {uri!r} ({exc.message}); is it running?"
        ) from exc


def keyword_text(text: str) -> str:
    """What the jieba BM25 field indexes: the folded text's Chinese and Latin runs, space-separated."""
    return " ".join(runs(text))


def bigram_text(text: str) -> str:
    """What the bigram BM25 field indexes: the character bigrams of the folded text."""
    return " ".join(bigrams(text))


def route_counts(weights: Sequence[float]) -> list[int]:
    """How often each search route is repeated so that RRF, which has no weights, weighs them.

    Repeating a route n times adds n/(k + rank) for it: weighted RRF for integer ratios.
    """
    fractions = [Fraction(w).limit_denominator(4) for w in weights]
    if any(abs(float(f) - w) > 1e-9 for f, w in zip(fractions, weights)):
        raise ValueError(f"retrieval weights {tuple(weights)} must be multiples of 1/4 for the Milvus store")
    scale = lcm(*(f.denominator for f in fractions))
    counts = [int(f * scale) for f in fractions]
    common = gcd(*counts) or 1
    counts = [c // common for c in counts]
    if sum(counts) > MAX_ROUTES:
        raise ValueError(
            f"retrieval weights {tuple(weights)} need {sum(counts)} search requests; "
            f"the Milvus store takes at most {MAX_ROUTES}: use simpler ratios such as 1 and 2"
        )
    return counts


class MilvusWriter:
    """The vectors of a generation being written: a new collection (build) or upserts (update)."""

    def __init__(
        self,
        client: Any,
        settings: StoreSettings,
        info: dict[str, Any],
        dimension: int,
        count: int,
        deletes: Sequence[str] = (),
    ) -> None:
        self.client, self.settings, self.info = client, settings, info
        self.dimension, self.ntotal, self.deletes = dimension, count, list(deletes)

    @classmethod
    def build(
        cls,
        settings: StoreSettings,
        root: Path,
        chunks: Sequence[HasChunk],
        articles: Mapping[str, Article],
        texts: Sequence[str],
        vectors: np.ndarray,
        progress: bool = False,
    ) -> MilvusWriter:
        """Write every chunk into a new collection, index and load it; it is not live yet."""
        client = connect(settings)
        alias = settings.milvus_alias or default_alias(root)
        name = f"{alias}__{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{secrets.token_hex(3)}"
        dimension = int(vectors.shape[1])
        bigram_analyzer = _bigram_analyzer(client) if settings.milvus_bigrams else None
        try:
            client.create_collection(name, schema=_schema(dimension, bigram_analyzer))
            with_bigrams = bigram_analyzer is not None
            rows = (
                _row(c, articles[c.chunk.article_id], t, v, with_bigrams)
                for c, t, v in zip(chunks, texts, vectors)
            )
            _insert(client, name, rows, len(chunks), "upload to Milvus", progress, upsert=False)
            client.flush(name)
            client.create_index(name, _index_params(client, settings, len(chunks)))
            client.load_collection(name)
        except pymilvus().MilvusException as exc:
            _drop_quietly(client, name)
            raise StoreUnavailableError(
                f"Milvus refused to write collection {name!r}: {exc.message}"
            ) from exc
        except BaseException:
            _drop_quietly(client, name)
            raise
        info = {
            "backend": "milvus",
            "uri": normalized_uri(settings.milvus_uri or ""),
            "alias": alias,
            "collection": name,
            "index_type": settings.milvus_index_type,
            "metric": "COSINE",
            "keyword_analyzer": JIEBA["tokenizer"],
            "bigram_analyzer": bigram_analyzer["tokenizer"] if bigram_analyzer else None,
            "server": _server_version(client),
        }
        return cls(client, settings, info, dimension, len(chunks))

    @classmethod
    def update(
        cls,
        previous: MilvusVectors,
        settings: StoreSettings,
        count: int,
        upserts: Sequence[tuple[HasChunk, Article, str, np.ndarray]],
        deletes: Sequence[str],
        next_vid: int,
        progress: bool = False,
    ) -> MilvusWriter:
        """Upsert the rows of new and changed chunks into the live collection (by chunk id).

        First finishes what a killed writer left: the deletes its manifest lists, and rows
        with vids from `next_vid` on (never made live). The rows in `deletes` are deleted
        when the new generation is live (`publish`).
        """
        client, name = previous.client, previous.collection
        try:
            if pending := previous.info.get("pending_delete"):
                client.delete(name, ids=list(pending))
            client.delete(name, filter=f"vid >= {int(next_vid)}")
            rows = (_row(c, a, t, v, previous.bigrams) for c, a, t, v in upserts)
            _insert(client, name, rows, len(upserts), "upload to Milvus", progress, upsert=True)
            client.flush(name)
        except pymilvus().MilvusException as exc:
            raise StoreUnavailableError(
                f"Milvus refused to update collection {name!r}: {exc.message}"
            ) from exc
        info = {k: v for k, v in previous.info.items() if k != "pending_delete"}
        if deletes:
            info["pending_delete"] = list(deletes)
        return cls(client, settings, info, previous.dimension, count, deletes)

    def manifest(self) -> dict[str, Any]:
        """The manifest's entries for the vectors: the `store` section."""
        return {"store": dict(self.info)}

    def files(self) -> dict[str, Any]:
        """Files of the generation: none, the vectors live in Milvus."""
        return {}

    def publish(self, kept: Sequence[Mapping[str, Any]]) -> None:
        """Now that the generation is live: point the alias at its collection, drop the rows an
        update removed and the collections no kept generation names (`kept`: the `store`
        sections of the previous generation and of those a running server holds a lease on)."""
        name, alias = self.info["collection"], self.info["alias"]
        try:
            if self.deletes:
                self.client.delete(name, ids=self.deletes)
            _point_alias(self.client, alias, name)
            keep = {name} | {store.get("collection") for store in kept}
            ours = re.compile(rf"{re.escape(alias)}__\d{{8}}T\d{{6}}_[0-9a-f]{{6}}")
            for other in self.client.list_collections():
                if ours.fullmatch(other) and other not in keep:
                    self.client.drop_collection(other)
        except pymilvus().MilvusException as exc:
            # The generation is live and consistent; what is left is cleaned up by the next writer.
            print(f"note: Milvus clean-up after the swap failed ({exc.message})", file=sys.stderr)


class MilvusVectors:
    """A VectorStore over the collection of one generation, with hybrid (dense + BM25) search.

    Only the chunks of this generation are ever returned: a hit whose vid and chunk id are not
    one of them (rows an update has upserted for a newer generation) is dropped.
    """

    def __init__(
        self, client: Any, info: Mapping[str, Any], chunks: Sequence[HasChunk], dimension: int
    ) -> None:
        self.client, self.info = client, dict(info)
        self.collection: str = info["collection"]
        self.dimension = dimension
        self.ids = {c.vid: c.chunk.id for c in chunks}
        self.bigrams = bool(info.get("bigram_analyzer"))

    @classmethod
    def open(
        cls, settings: StoreSettings, info: Mapping[str, Any], chunks: Sequence[HasChunk], dimension: int
    ) -> MilvusVectors:
        """Connect to the generation's collection and load it (raises when it is gone)."""
        client = connect(settings)
        name = info["collection"]
        try:
            if not client.has_collection(name):
                raise IndexCorruptError(
                    f"the Milvus collection {name!r} of this index is missing at {info.get('uri')!r}; rebuild the index"
                )
            client.load_collection(name)
        except pymilvus().MilvusException as exc:
            raise StoreUnavailableError(f"Milvus cannot load collection {name!r}: {exc.message}") from exc
        return cls(client, info, chunks, dimension)

    @property
    def ntotal(self) -> int:
        """How many vectors this generation holds."""
        return len(self.ids)

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The vids and cosines of the `k` nearest chunks, best first."""
        k = min(k, self.ntotal)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = self._call(
            self.client.search,
            self.collection,
            data=[np.asarray(vector, dtype=np.float32).ravel().tolist()],
            anns_field="vector",
            limit=k,
            search_params=self._dense_params(k),
            output_fields=["vid"],
        )
        return self._known(hits[0])

    def hybrid_search(
        self, query: str, vector: np.ndarray, k: int, weights: tuple[float, float], rrf_k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Dense and BM25 search fused by Milvus's RRFRanker; returns vids and RRF scores, best first.

        `weights` (dense, keyword) become repeated requests (see `route_counts`); the keyword
        weight is shared by the jieba and bigram fields. A route with nothing to search (no
        Chinese or Latin word in the question) is left out.
        """
        module = pymilvus()
        dense, keyword = weights
        routes: list[tuple[str, Any, dict[str, Any], float]] = []
        if dense > 0:
            routes.append(
                (
                    "vector",
                    np.asarray(vector, dtype=np.float32).ravel().tolist(),
                    self._dense_params(k),
                    dense,
                )
            )
        text = keyword_text(query)
        share = keyword / (2 if self.bigrams else 1)
        if keyword > 0 and text:
            routes.append(("keywords_bm25", text, {}, share))
        grams = bigram_text(query) if self.bigrams else ""
        if keyword > 0 and grams:
            routes.append(("bigrams_bm25", grams, {}, share))
        requests = [
            module.AnnSearchRequest(data=[data], anns_field=field, param=params, limit=k)
            for (field, data, params, _), count in zip(routes, route_counts([r[3] for r in routes]))
            for _ in range(count)
        ]
        if not requests:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        hits = self._call(
            self.client.hybrid_search,
            self.collection,
            requests,
            ranker=module.RRFRanker(rrf_k),
            limit=k,
            output_fields=["vid"],
        )
        return self._known(hits[0])

    def reconstruct(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of `ids`, one float32 row each."""
        rows: dict[int, list[float]] = {}
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), QUERY_BATCH):
            part = sorted(set(wanted[start : start + QUERY_BATCH]))
            found = self._call(
                self.client.query, self.collection, filter=f"vid in {part}", output_fields=["vid", "vector"]
            )
            rows.update(
                (int(r["vid"]), r["vector"]) for r in found if self.ids.get(int(r["vid"])) == r["chunk_id"]
            )
        missing = [i for i in wanted if i not in rows]
        if missing:
            raise IndexCorruptError(
                f"the Milvus collection {self.collection!r} lacks the vectors of {len(missing)} chunks "
                f"(vids {missing[:5]}…); rebuild the index"
            )
        if not wanted:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray([rows[i] for i in wanted], dtype=np.float32)

    def _dense_params(self, k: int) -> dict[str, Any]:
        if self.info.get("index_type") == "IVF_SQ8":
            return {"metric_type": "COSINE", "params": {"nprobe": 16}}
        return {"metric_type": "COSINE", "params": {"ef": max(k, 128)}}

    def _known(self, hits: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """The hits of this generation's chunks, as arrays of vids and scores."""
        kept = [
            (int(h["entity"]["vid"]), float(h["distance"]))
            for h in hits
            if self.ids.get(int(h["entity"]["vid"])) == h["chunk_id"]
        ]
        vids = np.asarray([v for v, _ in kept], dtype=np.int64)
        return vids, np.asarray([s for _, s in kept], dtype=np.float32)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except pymilvus().MilvusException as exc:
            raise StoreUnavailableError(f"Milvus ({self.collection!r}): {exc.message}") from exc


def _schema(dimension: int, bigram_analyzer: dict[str, Any] | None) -> Any:
    """The collection's fields and BM25 functions."""
    module = pymilvus()
    types = module.DataType
    schema = module.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("chunk_id", types.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vid", types.INT64)
    schema.add_field("article_id", types.VARCHAR, max_length=SHORT_BYTES)
    schema.add_field("text", types.VARCHAR, max_length=TEXT_BYTES)
    schema.add_field("start", types.INT64)
    schema.add_field("end", types.INT64)
    for name in ("section", "title", "source", "date", "url"):
        schema.add_field(name, types.VARCHAR, max_length=SHORT_BYTES, nullable=True)
    for name in ("paragraph", "paragraph_end"):
        schema.add_field(name, types.INT64, nullable=True)
    schema.add_field("vector", types.FLOAT_VECTOR, dim=dimension)
    _add_bm25(schema, "keywords", JIEBA)
    if bigram_analyzer:
        _add_bm25(schema, "bigrams", bigram_analyzer)
    return schema


def _add_bm25(schema: Any, name: str, analyzer: dict[str, Any]) -> None:
    module = pymilvus()
    schema.add_field(
        name, module.DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True, analyzer_params=analyzer
    )
    schema.add_field(f"{name}_bm25", module.DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        module.Function(
            name=f"{name}_fn",
            function_type=module.FunctionType.BM25,
            input_field_names=[name],
            output_field_names=[f"{name}_bm25"],
        )
    )


def _index_params(client: Any, settings: StoreSettings, count: int) -> Any:
    """HNSW (or HNSW_SQ, IVF_SQ8) over cosine for the vectors; BM25 inverted indexes (k1 1.2, b 0.75)."""
    params = client.prepare_index_params()
    kind = settings.milvus_index_type
    if kind == "IVF_SQ8":
        vector_params: dict[str, Any] = {"nlist": max(1, min(65_536, int(4 * count**0.5)))}
    else:
        vector_params = {"M": settings.hnsw_m, "efConstruction": settings.hnsw_ef_construction}
        if kind == "HNSW_SQ":
            vector_params["sq_type"] = "SQ8"
    params.add_index(field_name="vector", index_type=kind, metric_type="COSINE", params=vector_params)
    for field in ("keywords_bm25", "bigrams_bm25") if settings.milvus_bigrams else ("keywords_bm25",):
        params.add_index(
            field_name=field,
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": 1.2, "bm25_b": 0.75},
        )
    return params


def _row(
    stored: HasChunk, article: Article, text: str, vector: np.ndarray, bigram_field: bool
) -> dict[str, Any]:
    """One collection row: the chunk, its citation fields, its BM25 texts and its vector."""
    chunk = stored.chunk
    row = {
        "chunk_id": chunk.id,
        "vid": int(stored.vid),
        "article_id": _clip(chunk.article_id, SHORT_BYTES),
        "text": _clip(chunk.text, TEXT_BYTES),
        "start": chunk.start,
        "end": chunk.end,
        "section": _clip(chunk.section, SHORT_BYTES),
        "title": _clip(article.title, SHORT_BYTES),
        "source": _clip(article.source, SHORT_BYTES),
        "date": _clip(article.date, SHORT_BYTES),
        "url": _clip(article.url, SHORT_BYTES),
        "paragraph": chunk.paragraph,
        "paragraph_end": chunk.paragraph_end,
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
        "keywords": _clip(keyword_text(text), TEXT_BYTES),
    }
    if bigram_field:
        row["bigrams"] = _clip(bigram_text(text), TEXT_BYTES)
    return row


def _insert(
    client: Any,
    name: str,
    rows: Iterator[dict[str, Any]],
    total: int,
    desc: str,
    progress: bool,
    upsert: bool,
) -> None:
    """Insert (or upsert) rows in batches, with a progress bar counted in chunks."""
    from tqdm import tqdm

    write = client.upsert if upsert else client.insert
    batch: list[dict[str, Any]] = []
    with tqdm(total=total, unit="chunk", desc=desc, disable=not progress, file=sys.stderr) as bar:
        for row in rows:
            batch.append(row)
            if len(batch) == INSERT_BATCH:
                write(name, batch)
                bar.update(len(batch))
                batch = []
        if batch:
            write(name, batch)
            bar.update(len(batch))


def _clip(value: str | None, limit: int) -> str | None:
    """A string cut to at most `limit` UTF-8 bytes (Milvus VARCHAR lengths are in bytes)."""
    if value is None:
        return None
    data = value.encode("utf-8")
    return value if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")


def _bigram_analyzer(client: Any) -> dict[str, Any]:
    """The analyzer that keeps whitespace-separated bigrams whole on this server."""
    return BIGRAM_ANALYZERS["lite" if _server_version(client).startswith("milvus_lite") else "cluster"]


def _server_version(client: Any) -> str:
    try:
        return str(client.get_server_version())
    except Exception:  # noqa: BLE001 - only a description for the manifest
        return "unknown"


def _point_alias(client: Any, alias: str, name: str) -> None:
    """Make `alias` name collection `name` (created on the first build)."""
    if alias in (client.list_aliases() or {}).get("aliases", []):
        client.alter_alias(name, alias)
    else:
        client.create_alias(name, alias)


def _drop_quietly(client: Any, name: str) -> None:
    """Drop a half-written collection; if that fails too, the next writer drops it."""
    try:
        client.drop_collection(name)
    except Exception as exc:  # noqa: BLE001 - already failing; the original error is what matters
        print(f"note: could not drop the half-written collection {name!r} ({exc})", file=sys.stderr)
