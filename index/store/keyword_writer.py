"""Write the keyword files of a generation from a stream of token lists, in bounded memory.

`index.store.keyword.write_keyword_index` takes every chunk's tokens as Python lists, which
at a million chunks held 18.6 GB. `TokenSpool` instead takes one chunk's tokens at a time,
turns them into vocabulary ids and appends those to a scratch file; `finish` then writes
the very files `write_keyword_index` writes (bm25s's own save format, read back by
`bm25s.BM25.load`, and the chunk tokens of `keyword.ChunkTokens`), computing BM25 in
passes over the spooled ids. What stays in memory is the vocabulary, one int64 offset a
chunk, the per-term counts and one block of postings at a time.

The scores are bm25s's (method "lucene", k1 1.2, b 0.75): idf = ln(1 + (N - df + 0.5) /
(df + 0.5)), tf part tf / (tf + k1 (1 - b + b |d| / avg |d|)); a chunk without tokens is
indexed as the one token "" (as `KeywordIndex.from_tokens` does), and "" is in the
vocabulary in any case (bm25s's `create_empty_token`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import numpy as np

from index.store.keyword import BLOCK, BLOCKS_FILE, MAXIMA_FILE, TOKENS_DIR, block_count, list_maxima
from index.store.spool import scratch_write

K1, B = 1.2, 0.75
BLOCK_TOKENS = 4_000_000  # token ids read at a time when counting (16 MB)
BLOCK_POSTINGS = 16_000_000  # postings (term, chunk, tf) of one pass (about 190 MB with their scores)
POSTING = np.dtype([("term", "<u4"), ("chunk", "<u4"), ("tf", "<u4")])
IDS_FILE = "ids.npy"  # the spooled token ids, a .npy file from the start


class TokenSpool:
    """The keyword tokens of a generation's chunks, appended one chunk at a time to `scratch`.

    The ids file is written as a .npy file from the start (its header's count filled in by
    `finish`), so it is moved into the generation, not copied: at ten million chunks it is
    about 10 GB of disk."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        with scratch_write(scratch.parent, "the token scratch file"):
            scratch.mkdir(parents=True, exist_ok=True)
            self._ids = open(scratch / IDS_FILE, "wb")  # noqa: SIM115 - closed by finish
            _ids_header(self._ids, 0)
        self.vocab: dict[str, int] = {}
        self._lengths: list[int] = []  # per chunk; packed into an array by finish
        self._pending: list[int] = []

    @classmethod
    def beside(cls, root: Path) -> TokenSpool:
        """A spool in a new scratch directory `root/.staging-tokens-…` (removed by the next
        writer if this one dies)."""
        with scratch_write(root, "the token scratch file"):
            root.mkdir(parents=True, exist_ok=True)
            return cls(Path(tempfile.mkdtemp(prefix=".staging-tokens-", dir=root)))

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, tokens: Iterable[str]) -> None:
        """Append the tokens of the next chunk."""
        vocab = self.vocab
        ids = [vocab.setdefault(t, len(vocab)) for t in tokens]
        self._lengths.append(len(ids))
        self._pending.extend(ids)
        if len(self._pending) >= 1_000_000:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            with scratch_write(self.scratch.parent, "the token scratch file"):
                self._ids.write(np.asarray(self._pending, dtype=np.uint32).tobytes())
            self._pending = []

    def finish(self, path: Path) -> None:
        """Write the BM25 index (bm25s files) and the chunk tokens (`tokens/`) into `path`.

        Called while the generation is written: its OSErrors name the keyword files.
        """
        if self._pending:
            self._ids.write(np.asarray(self._pending, dtype=np.uint32).tobytes())
            self._pending = []
        self._ids.close()
        path.mkdir(parents=True, exist_ok=True)
        offsets = np.zeros(len(self._lengths) + 1, dtype=np.int64)
        np.cumsum(np.asarray(self._lengths, dtype=np.int64), out=offsets[1:])
        self._lengths = []
        self.vocab.setdefault(
            "", len(self.vocab)
        )  # the column of chunks without tokens (bm25s's empty token)
        _write_bm25(path, self.scratch, offsets, self.vocab)
        _write_tokens(path / TOKENS_DIR, self.scratch / IDS_FILE, offsets, self.vocab)
        shutil.rmtree(self.scratch, ignore_errors=True)


def _ids_header(out: BinaryIO, count: int) -> None:
    """Write the .npy header of `count` token ids. numpy pads it to the same length for any
    count (room to grow an array in place), so the 0 written first is overwritten once the
    count is known."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint32)), "fortran_order": False}
    np.lib.format.write_array_header_1_0(out, {**header, "shape": (count,)})


def _write_tokens(path: Path, spooled: Path, offsets: np.ndarray, vocab: dict[str, int]) -> None:
    """`keyword.ChunkTokens`'s files: vocab.json, ids.npy (the spool, moved), offsets.npy."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "vocab.json", "w", encoding="utf-8") as out:
        json.dump(list(vocab), out, ensure_ascii=False)
    with open(spooled, "r+b") as ids:
        _ids_header(ids, int(offsets[-1]))
    shutil.move(spooled, path / "ids.npy")  # a rename: the scratch is beside the generation
    np.save(path / "offsets.npy", offsets, allow_pickle=False)


def _id_blocks(spooled: Path, offsets: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """(first chunk, chunk after the last, their token ids) in blocks of whole chunks."""
    n = len(offsets) - 1
    first = 0
    with open(spooled, "rb") as source:
        np.lib.format.read_magic(source)
        np.lib.format.read_array_header_1_0(source)  # the ids follow it
        while first < n:
            last = int(np.searchsorted(offsets, offsets[first] + BLOCK_TOKENS, side="right")) - 1
            last = min(n, max(last, first + 1))
            count = int(offsets[last] - offsets[first])
            yield first, last, np.fromfile(source, dtype=np.uint32, count=count)
            first = last


def _block_postings(spooled: Path, offsets: np.ndarray, empty: int) -> Iterator[np.ndarray]:
    """Every (term, chunk, tf) posting, a block of whole chunks at a time, in chunk order.

    A chunk without tokens gets the one posting (`empty`, chunk, 1).
    """
    lengths = np.diff(offsets)
    for first, last, ids in _id_blocks(spooled, offsets):
        span = lengths[first:last]
        blanks = first + np.flatnonzero(span == 0)
        chunk = np.concatenate([np.repeat(np.arange(first, last, dtype=np.int64), span), blanks])
        terms = np.concatenate([ids.astype(np.int64), np.full(len(blanks), empty, dtype=np.int64)])
        keys, tf = np.unique(chunk << 32 | terms, return_counts=True)
        record = np.empty(len(keys), dtype=POSTING)
        record["term"], record["chunk"], record["tf"] = keys & 0xFFFFFFFF, keys >> 32, tf
        yield record


def _bucket_postings(
    spooled: Path, offsets: np.ndarray, empty: int, ranges: list[tuple[int, int]], scratch: Path
) -> list[Path]:
    """Write the postings of each term range to a file of its own, in chunk order; return
    the files. Each holds at most about BLOCK_POSTINGS postings, so every range is scored
    from its own file in one read: one pass over all postings, not one per range."""
    starts = np.asarray([start for start, _ in ranges], dtype=np.int64)
    paths = [scratch / f"postings-{i:05d}.bin" for i in range(len(ranges))]
    with ExitStack() as stack:
        outs = [stack.enter_context(open(p, "wb")) for p in paths]
        for record in _block_postings(spooled, offsets, empty):
            bucket = np.searchsorted(starts, record["term"], side="right") - 1
            order = np.argsort(bucket, kind="stable")  # keeps chunk order inside a bucket
            record, bucket = record[order], bucket[order]
            bounds = np.searchsorted(bucket, np.arange(len(ranges) + 1))
            for i in np.flatnonzero(np.diff(bounds)):
                outs[i].write(record[bounds[i] : bounds[i + 1]].tobytes())
    return paths


def _write_bm25(path: Path, scratch: Path, offsets: np.ndarray, vocab: dict[str, int]) -> None:
    """bm25s's save files for the spooled ids: CSC scores (chunks x terms), vocab, params.

    Two passes over the spooled ids: the first counts each term's chunks, the second sorts
    the postings into one file per term range; each range is then scored from its file,
    which is deleted once written out (disk: the postings once, then the scores)."""
    import bm25s

    n, columns = len(offsets) - 1, len(vocab)
    lengths = np.maximum(np.diff(offsets), 1).astype(np.float64)  # an empty chunk is the token ""
    norm = K1 * ((1 - B) + B * lengths / lengths.mean()) if n else lengths
    spooled = scratch / IDS_FILE
    df = np.zeros(columns, dtype=np.int64)
    for record in _block_postings(spooled, offsets, vocab[""]):
        df += np.bincount(record["term"], minlength=columns)
    indptr = np.zeros(columns + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)  # bm25s keeps idf as float32
    total = int(indptr[-1])
    ranges = list(_term_ranges(indptr))
    buckets = _bucket_postings(spooled, offsets, vocab[""], ranges, scratch)
    maxima = np.zeros(columns, dtype=np.float32)
    firsts = np.zeros(block_count(total), dtype=np.int32)  # the chunk of every BLOCK-th posting
    with open(path / "data.csc.index.npy", "wb") as data, open(path / "indices.csc.index.npy", "wb") as rows:
        for out, dtype in ((data, np.float32), (rows, np.int32)):
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False}
            np.lib.format.write_array_header_1_0(out, {**header, "shape": (total,)})
        for (start, stop), bucket in zip(ranges, buckets):
            scores, chunks = _score_range(bucket, indptr, start, stop, idf, norm)
            maxima[start:stop] = list_maxima(scores, indptr[start : stop + 1] - indptr[start])
            block = block_count(int(indptr[start]))  # the first block starting in this range
            starts = chunks[block * BLOCK - int(indptr[start]) :: BLOCK]
            firsts[block : block + len(starts)] = starts
            data.write(scores.tobytes())
            rows.write(chunks.tobytes())
            bucket.unlink()
    np.save(path / "indptr.csc.index.npy", indptr, allow_pickle=False)
    np.save(path / MAXIMA_FILE, maxima, allow_pickle=False)
    np.save(path / BLOCKS_FILE, firsts, allow_pickle=False)
    _write_bm25_json(path, vocab, n, bm25s.__version__)


def _term_ranges(indptr: np.ndarray) -> Iterator[tuple[int, int]]:
    """Consecutive term ranges holding at most BLOCK_POSTINGS postings each (or one term)."""
    start, columns = 0, len(indptr) - 1
    while start < columns:
        stop = int(np.searchsorted(indptr, indptr[start] + BLOCK_POSTINGS, side="right")) - 1
        stop = min(columns, max(stop, start + 1))
        yield start, stop
        start = stop


def _score_range(
    pairs: Path, indptr: np.ndarray, start: int, stop: int, idf: np.ndarray, norm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The CSC scores and chunk rows of terms start..stop-1, from the file of their postings
    (and of no other term's).

    Postings are in chunk order, so a stable sort by term keeps each term's chunks ascending.
    """
    base = int(indptr[start])
    scores = np.empty(int(indptr[stop]) - base, dtype=np.float32)
    chunks = np.empty(len(scores), dtype=np.int32)
    cursor = indptr[start:stop] - base  # where each term's next posting goes
    with open(pairs, "rb") as source:
        while len(block := np.fromfile(source, dtype=POSTING, count=BLOCK_POSTINGS // 4)):
            block = block[np.argsort(block["term"], kind="stable")]
            local = block["term"].astype(np.int64) - start
            place = cursor[local] + np.arange(len(local)) - np.searchsorted(local, local, side="left")
            tf, chunk = block["tf"].astype(np.float64), block["chunk"].astype(np.int64)
            scores[place] = idf[local + start] * (tf / (norm[chunk] + tf))
            chunks[place] = chunk
            cursor += np.bincount(local, minlength=stop - start)
    return scores, chunks


def _write_bm25_json(path: Path, vocab: dict[str, int], n: int, version: str) -> None:
    """vocab.index.json and params.index.json as `bm25s.BM25.save` writes them."""
    with open(path / "vocab.index.json", "w", encoding="utf-8") as out:
        json.dump(vocab, out, ensure_ascii=False)
    params = {
        "k1": K1,
        "b": B,
        "delta": 0.5,
        "method": "lucene",
        "idf_method": "lucene",
        "dtype": "float32",
        "int_dtype": "int32",
        "num_docs": n,
        "version": version,
        "backend": "numpy",
    }
    with open(path / "params.index.json", "w", encoding="utf-8") as out:
        json.dump(params, out, indent=4)
