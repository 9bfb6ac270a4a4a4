"""Chunk and article records on disk: one SQLite file per generation, read on demand.

A served index must not hold every chunk and article as Python objects (at a million chunks
they took gigabytes), so a generation keeps them in `records.sqlite`, which Python ships:

    articles(seq INTEGER PRIMARY KEY, id TEXT UNIQUE, data TEXT)      data: Article.to_dict() as JSON
    chunks(position INTEGER PRIMARY KEY, vid INTEGER UNIQUE, embed_hash TEXT,
           article_id TEXT, data TEXT)                                data: Chunk.to_dict() as JSON

`ChunkRecords` (a read-only sequence of StoredChunk, by position) and `ArticleRecords` (a
read-only mapping of Article by id) read rows as they are asked for, through a bounded LRU
cache; iterating streams the rows in batches. A generation is never changed once written,
so the file is opened read-only and immutable (no locking), from any thread.

Generations written before this file (format version 1) keep their records as JSONL;
`MemoryChunks` gives their in-memory list the same interface.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import numpy as np

from index.documents import Article, Chunk

RECORDS = "records.sqlite"
CACHE_SIZE = 4096  # records of each kind kept as objects: a question touches a few dozen
WRITE_BATCH = 2000  # rows per executemany: bounded memory however many records stream in
READ_BATCH = 1000  # rows per query while iterating

_SCHEMA = """
CREATE TABLE articles (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
CREATE TABLE chunks (
    position INTEGER PRIMARY KEY,
    vid INTEGER NOT NULL UNIQUE,
    embed_hash TEXT NOT NULL,
    article_id TEXT NOT NULL,
    data TEXT NOT NULL
);
"""

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")
_MISSING: Any = object()  # not in a cache (its values may be None)
IN_BATCH = 500  # values per `IN (…)`: well under SQLite's bound on parameters


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as stored: the chunk, its FAISS id and the digest of its embedded text."""

    chunk: Chunk
    vid: int
    embed_hash: str


def chunk_row(stored: StoredChunk) -> dict[str, Any]:
    """A stored chunk as one JSON object (the JSONL line of a version-1 generation)."""
    return {**stored.chunk.to_dict(), "vid": stored.vid, "embed_hash": stored.embed_hash}


def stored_chunk(row: Mapping[str, Any]) -> StoredChunk:
    """The stored chunk of a JSON object written by `chunk_row`."""
    return StoredChunk(Chunk.from_dict(dict(row)), int(row["vid"]), str(row["embed_hash"]))


def write_records(path: Path, articles: Iterable[Article], chunks: Iterable[StoredChunk]) -> tuple[int, int]:
    """Write the records file of a generation, streaming rows in batches; return the numbers
    of articles and chunks written.

    Raises:
        OSError: the file could not be written (ENOSPC when the disk is full).
        ValueError: two articles share an id, or two chunks a vid.
    """
    spool = RecordSpool(path)
    try:
        for article in articles:
            spool.add_article(article)
        for stored in chunks:
            spool.add_chunk(stored)
        spool.close()
    except BaseException:
        spool.abort()
        raise
    return spool.articles, spool.chunks


class RecordSpool:
    """A records file filled as a build makes its records, so that no list of every article
    and chunk is held: rows are inserted WRITE_BATCH at a time into `path`, which
    `write_generation` then takes whole as the generation's records file.

    Chunks are numbered in the order they are added. `finish` ends the writing and returns
    the two read-only views, for the rest of the build to read the records back as it needs them.

    Errors are raised as by `write_records` (OSError, ValueError for a repeated id or vid).
    """

    ARTICLES_SQL = "INSERT INTO articles VALUES (?, ?, ?)"
    CHUNKS_SQL = "INSERT INTO chunks VALUES (?, ?, ?, ?, ?)"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.articles = self.chunks = 0
        self._rows: dict[str, list[tuple[Any, ...]]] = {self.ARTICLES_SQL: [], self.CHUNKS_SQL: []}
        with _sqlite_errors(path):
            self._db = sqlite3.connect(path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=OFF")  # a scratch file: a failed build throws it away
            self._db.execute("PRAGMA synchronous=OFF")  # the generation is synced when it is made live
            self._db.executescript(_SCHEMA)
            self._db.execute("BEGIN")

    def add_article(self, article: Article) -> None:
        self._add(self.ARTICLES_SQL, (self.articles, article.id, _json(article.to_dict())))
        self.articles += 1

    def add_chunk(self, stored: StoredChunk) -> None:
        """Add the next chunk (its position is the number of chunks added before it)."""
        chunk = stored.chunk
        self._add(
            self.CHUNKS_SQL,
            (self.chunks, stored.vid, stored.embed_hash, chunk.article_id, _json(chunk.to_dict())),
        )
        self.chunks += 1

    def _add(self, sql: str, row: tuple[Any, ...]) -> None:
        pending = self._rows[sql]
        pending.append(row)
        if len(pending) >= WRITE_BATCH:
            self._flush(sql)

    def _flush(self, sql: str) -> None:
        with _sqlite_errors(self.path):
            self._db.executemany(sql, self._rows[sql])
        self._rows[sql].clear()

    def close(self) -> None:
        """Write what is pending and close the file."""
        for sql in self._rows:
            self._flush(sql)
        with _sqlite_errors(self.path):
            self._db.execute("COMMIT")
            self._db.close()

    def finish(self) -> tuple[ChunkRecords, ArticleRecords]:
        """`close`, then open the file read-only: (chunks, articles)."""
        self.close()
        return open_records(self.path)

    def abort(self) -> None:
        """Close the file, keeping what was written (a failed writer's caller throws it away)."""
        self._db.close()


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """SQLite's errors as write_records raises them."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise ValueError(f"duplicate record in {path.name} ({exc})") from exc
    except sqlite3.Error as exc:
        full = "full" in str(exc).lower()
        raise OSError(28 if full else 5, f"SQLite could not write it ({exc})", str(path)) from exc


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Records:
    """The read-only connection to one records file, shared by its two views."""

    def __init__(self, path: Path) -> None:
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        self.path = path
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._lock = threading.Lock()  # one connection, used by a server's threads in turn

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query.

        Raises:
            ValueError: the file is not a records file (sqlite3.DatabaseError).
        """
        with self._lock:
            try:
                return self._db.execute(sql, tuple(args)).fetchall()
            except sqlite3.DatabaseError as exc:
                raise ValueError(f"{self.path.name}: {exc}") from exc

    def query_in(self, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        """All rows of `sql`, whose `{}` is an `IN` list, for every value: IN_BATCH values a query."""
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(values), IN_BATCH):
            part = values[start : start + IN_BATCH]
            rows += self.query(sql.format(",".join("?" * len(part))), part)
        return rows

    def counts(self, counted: bool = True) -> tuple[int, int]:
        """How many articles and chunks the file holds (checked against positions 0..n-1).

        Unless `counted`, they are read from the highest positions alone (a lookup each, where
        counting reads every row: seconds at a million chunks), for a file whose positions a
        verified load already found to run 0..n-1."""
        if not counted:
            [(last_seq,)] = self.query("SELECT MAX(seq) FROM articles")
            [(last,)] = self.query("SELECT MAX(position) FROM chunks")
            return (0 if last_seq is None else int(last_seq) + 1), (0 if last is None else int(last) + 1)
        [(articles, first_seq, last_seq)] = self.query("SELECT COUNT(*), MIN(seq), MAX(seq) FROM articles")
        [(chunks, first, last)] = self.query("SELECT COUNT(*), MIN(position), MAX(position) FROM chunks")
        if (chunks and (first, last) != (0, chunks - 1)) or (
            articles and (first_seq, last_seq) != (0, articles - 1)
        ):
            raise ValueError(f"{self.path.name}: positions are not 0..n-1")
        return int(articles), int(chunks)

    def close(self) -> None:
        """Close the connection (the views must not be used afterwards)."""
        with self._lock:
            self._db.close()


class _Cache(Generic[K, V]):
    """A bounded least-recently-used cache, safe to use from several threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[K], V]) -> V:
        value = self.peek(key, _MISSING)
        return self.put(key, load(key)) if value is _MISSING else value

    def peek(self, key: K, default: D) -> V | D:
        """The cached value (marked as used), or `default`."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return default

    def put(self, key: K, value: V) -> V:
        """Cache a value (the least recently used one goes when full); return it."""
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


class ChunkRecords(Sequence[StoredChunk]):
    """The chunks of a generation by position, read from its records file on demand."""

    def __init__(self, records: Records, count: int, cache_size: int = CACHE_SIZE) -> None:
        self.records = records
        self._count = count
        self._cache: _Cache[int, StoredChunk] = _Cache(cache_size)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, position: int) -> StoredChunk: ...

    @overload
    def __getitem__(self, position: slice) -> list[StoredChunk]: ...

    def __getitem__(self, position: int | slice) -> StoredChunk | list[StoredChunk]:
        if isinstance(position, slice):
            start, stop, step = position.indices(self._count)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return list(self._range(start, stop))
        if position < 0:
            position += self._count
        if not 0 <= position < self._count:
            raise IndexError(f"chunk position {position} out of range (0..{self._count - 1})")
        return self._cache.get(position, self._read)

    def at(self, positions: Sequence[int]) -> list[StoredChunk]:
        """The chunks at these positions, in the same order: the ones not cached are read in one
        query (a question's ranked chunks, where reading them one at a time cost a query each).

        Raises:
            IndexError: a position is not a chunk of this generation.
        """
        found: dict[int, StoredChunk] = {}
        missing = []
        for position in dict.fromkeys(positions):
            chunk = self._cache.peek(position, None)
            if chunk is None:
                missing.append(position)
            else:
                found[position] = chunk
        sql = "SELECT position, vid, embed_hash, data FROM chunks WHERE position IN ({})"
        for position, *row in self.records.query_in(sql, missing):
            found[position] = self._cache.put(position, _stored(tuple(row)))
        try:
            return [found[p] for p in positions]
        except KeyError as exc:
            raise IndexError(f"chunk position {exc} is missing from {self.records.path.name}") from None

    def _read(self, position: int) -> StoredChunk:
        rows = self.records.query("SELECT vid, embed_hash, data FROM chunks WHERE position = ?", (position,))
        if not rows:
            raise IndexError(f"chunk position {position} is missing from {self.records.path.name}")
        return _stored(rows[0])

    def __iter__(self) -> Iterator[StoredChunk]:
        """Every chunk in position order, read in batches (not kept in the cache)."""
        for start in range(0, self._count, READ_BATCH):
            yield from self._range(start, start + READ_BATCH)

    def _range(self, start: int, stop: int) -> Iterator[StoredChunk]:
        """The chunks at positions start..stop-1, read in one query (not kept in the cache)."""
        rows = self.records.query(
            "SELECT vid, embed_hash, data FROM chunks WHERE position >= ? AND position < ? ORDER BY position",
            (start, stop),
        )
        return (_stored(row) for row in rows)

    def embed_hashes(self) -> set[str]:
        """The distinct embed hashes of the chunks (read from their column, no record parsed)."""
        return {digest for (digest,) in self.records.query("SELECT DISTINCT embed_hash FROM chunks")}

    def vids(self) -> np.ndarray:
        """The vid of every chunk, in position order (int64)."""
        rows = self.records.query("SELECT vid FROM chunks ORDER BY position")
        return np.fromiter((vid for (vid,) in rows), dtype=np.int64, count=len(rows))

    def positions(self, vids: Sequence[int]) -> list[int]:
        """The positions of the chunks with these vids, in the same order.

        Raises:
            KeyError: a vid is not a chunk of this generation.
        """
        unique = sorted({int(v) for v in vids})
        found = dict(self.records.query_in("SELECT vid, position FROM chunks WHERE vid IN ({})", unique))
        return [found[int(v)] for v in vids]

    def article_counts(self) -> Counter[str]:
        """How many chunks each article has."""
        return Counter(
            dict(self.records.query("SELECT article_id, COUNT(*) FROM chunks GROUP BY article_id"))
        )

    def texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """The texts of the chunks with these ids (one pass over the file: for an admin page)."""
        wanted = list(chunk_ids)[:IN_BATCH]
        if not wanted:
            return {}
        pick = "json_extract(data, '$.id'), json_extract(data, '$.text')"
        marks = ",".join("?" * len(wanted))
        sql = f"SELECT {pick} FROM chunks WHERE json_extract(data, '$.id') IN ({marks})"
        return dict(self.records.query(sql, wanted))


def _stored(row: tuple[Any, ...]) -> StoredChunk:
    vid, embed_hash, data = row
    return StoredChunk(Chunk.from_dict(json.loads(data)), int(vid), str(embed_hash))


class ArticleRecords(Mapping[str, Article]):
    """The articles of a generation by id, read from its records file on demand."""

    def __init__(self, records: Records, count: int, cache_size: int = CACHE_SIZE) -> None:
        self.records = records
        self._count = count
        self._cache: _Cache[str, Article | None] = _Cache(cache_size)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, article_id: str) -> Article:
        article = self._cache.get(article_id, self._read) if isinstance(article_id, str) else None
        if article is None:
            raise KeyError(article_id)
        return article

    def _read(self, article_id: str) -> Article | None:
        rows = self.records.query("SELECT data FROM articles WHERE id = ?", (article_id,))
        return Article.from_dict(json.loads(rows[0][0])) if rows else None

    def __contains__(self, article_id: object) -> bool:
        if not isinstance(article_id, str):
            return False
        return bool(self.records.query("SELECT 1 FROM articles WHERE id = ?", (article_id,)))

    def __iter__(self) -> Iterator[str]:
        """The article ids in the order they were written."""
        for rows in self._batches("id"):
            yield from (article_id for (article_id,) in rows)

    def values(self) -> Iterator[Article]:  # type: ignore[override]
        """Every article in the order written, read in batches (not kept in the cache)."""
        for rows in self._batches("data"):
            yield from (Article.from_dict(json.loads(data)) for (data,) in rows)

    def items(self) -> Iterator[tuple[str, Article]]:  # type: ignore[override]
        """(id, article) pairs in the order written, read in batches."""
        for article in self.values():
            yield article.id, article

    def _batches(self, columns: str) -> Iterator[list[tuple[Any, ...]]]:
        for start in range(0, self._count, READ_BATCH):
            yield self.records.query(
                f"SELECT {columns} FROM articles WHERE seq >= ? AND seq < ? ORDER BY seq",
                (start, start + READ_BATCH),
            )


class MemoryChunks(list[StoredChunk]):
    """The chunks of a version-1 generation (read whole from JSONL), with ChunkRecords' queries."""

    _position_of: dict[int, int] | None = None

    def vids(self) -> np.ndarray:
        """The vid of every chunk, in position order (int64)."""
        return np.fromiter((c.vid for c in self), dtype=np.int64, count=len(self))

    def positions(self, vids: Sequence[int]) -> list[int]:
        """The positions of the chunks with these vids, in the same order (KeyError for others)."""
        if self._position_of is None:
            self._position_of = {c.vid: i for i, c in enumerate(self)}
        return [self._position_of[int(v)] for v in vids]

    def at(self, positions: Sequence[int]) -> list[StoredChunk]:
        """The chunks at these positions, in the same order (IndexError for others)."""
        return [self[p] for p in positions]

    def article_counts(self) -> Counter[str]:
        """How many chunks each article has."""
        return Counter(c.chunk.article_id for c in self)

    def texts(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """The texts of the chunks with these ids."""
        wanted = set(chunk_ids)
        return {c.chunk.id: c.chunk.text for c in self if c.chunk.id in wanted}


def open_records(path: Path, counted: bool = True) -> tuple[ChunkRecords, ArticleRecords]:
    """The chunk and article views of a records file (`counted`: see `Records.counts`).

    Raises:
        ValueError: the file is not a sound records file.
    """
    records = Records(path)
    articles, chunks = records.counts(counted)
    return ChunkRecords(records, chunks), ArticleRecords(records, articles)
