"""The Chinese keyword index: BM25 (bm25s) over jieba words plus character bigrams.

jieba alone splits unfamiliar names wrongly (a name it cuts in two no longer matches the
query's cut), so every run of Chinese characters also contributes its character bigrams,
which match whatever the segmentation. Text is folded to simplified characters (OpenCC) and
NFKC before tokenising, so traditional queries find simplified text and the reverse (the
tokeniser is index.text.tokenize). The index is built once with the FAISS index and saved
beside it, never per query. The tokens of every chunk are saved too (`keyword/tokens/`), so
that an update or a rebuild tokenises only the chunks that are new; BM25 itself is then
recomputed over the whole index, because every score depends on corpus-wide statistics
(IDF, mean length).
"""

from __future__ import annotations

import ctypes
import json
import math
import mmap
import os
import sys
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import IndexCorruptError
from index.text import tokenize

KEYWORD_DIR = "keyword"
TOKENS_DIR = "tokens"  # inside KEYWORD_DIR
# Each term's largest weight in its posting list (float32, by term id), MaxScore's bound
MAXIMA_FILE = "term_max.npy"  # inside KEYWORD_DIR, beside bm25s's files
# The chunk id of every BLOCK-th posting (int32), to find a chunk's block of a long list without
# reading the list (KeywordIndex._lookup); a block's postings fill one 4 KB page of each array
BLOCKS_FILE = "block_first.npy"  # inside KEYWORD_DIR
BLOCK = 1024
# The arrays of a keyword index: bm25s's score matrix (CSC), then the two files above
ARRAY_FILES = (
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
    MAXIMA_FILE,
    BLOCKS_FILE,
)
# Blocks a lookup reads are read in runs, one pread a run; a gap of up to RUN_GAP blocks between
# two of them is read too (copying 4 KB costs less than another pread and its Python)
RUN_GAP = 8
# Score over a dense array once the postings touched exceed 1/DENSE_FACTOR of the chunks:
# sorting that many postings then costs more than a pass over every chunk (bench/RESULTS.md)
DENSE_FACTOR = 8
# A query touching more postings than this is searched with MaxScore pruning (`_search_pruned`):
# its longest posting lists are read only where they can still change the top k
PRUNE_POSTINGS = 200_000
# Relative slack on both sides of MaxScore's comparison, far above float32 rounding of a sum of
# a few hundred positive terms (about 1e-5), so pruning never drops a chunk of the exact top k
_SLACK = 1e-4
# Posting lists at least this long are asked for ahead (MADV_WILLNEED) in one request before a
# scan of every chunk reads them through the mapping, which is advised MADV_RANDOM (a page fault
# reads one page only); shorter lists are never read whole for the sake of the disk
PREFETCH_POSTINGS = 16_384
# A long posting list not in the page cache is read whole rather than binary-searched once its
# candidates are more than 1/PAGE_LOOKUPS of its pages (KeywordIndex._reads_whole)
PAGE_LOOKUPS = 4


@dataclass
class KeywordIndex:
    """A BM25 index over chunk texts, in chunk-position order."""

    bm25: Any  # bm25s.BM25 (untyped)
    # each term's largest weight (MAXIMA_FILE); None for an index written before it was kept,
    # whose MaxScore bounds are then the terms' IDFs (looser, same hits)
    maxima: np.ndarray | None = None
    # the chunk id of every BLOCK-th posting (BLOCKS_FILE); None for an index written before it
    # was kept, whose lookups into long lists are then binary searches through the mapping
    firsts: np.ndarray | None = None
    # the memory-mapped posting arrays' files, read with pread (`_span`): name -> (open
    # descriptor, byte offset of the array's first element); empty for arrays in memory
    files: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        """Tokenise and index the texts."""
        return cls.from_tokens([tokenize(t) for t in texts])

    @classmethod
    def from_tokens(cls, token_lists: Sequence[Sequence[str]]) -> KeywordIndex:
        """Index already tokenised texts (one token list per chunk, in chunk order)."""
        import bm25s

        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index([list(tokens) or [""] for tokens in token_lists], show_progress=False)
        scores = bm25.scores
        return cls(bm25, list_maxima(scores["data"], scores["indptr"]), block_firsts(scores["indices"]))

    def save(self, path: Path) -> None:
        """Write the index as bm25s's plain files (JSON and .npy, no pickle), each term's
        largest weight (MAXIMA_FILE) and the first chunk of each block (BLOCKS_FILE)."""
        self.bm25.save(str(path), allow_pickle=False)
        maxima = self.maxima
        if maxima is None:
            maxima = list_maxima(self.bm25.scores["data"], self.bm25.scores["indptr"])
        np.save(path / MAXIMA_FILE, maxima, allow_pickle=False)
        firsts = self.firsts if self.firsts is not None else block_firsts(self.bm25.scores["indices"])
        np.save(path / BLOCKS_FILE, firsts, allow_pickle=False)

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> KeywordIndex:
        """Read an index written by `save`; its score arrays memory-mapped unless `mmap` is False
        (they stay in the page cache, and only the postings a query touches are read).

        Searches read the posting arrays with pread (`_span`): a list whole, or the blocks of
        it that hold the chunks looked up (`_lookup`). The mapping serves a scan of every chunk
        (bm25s's own scoring) and tells which pages are cached; it is advised for random access
        (MADV_RANDOM), so a page fault reads that page, not the kernel's read-around window (up
        to read_ahead_kb, 8 MB on this machine's disk). Arrays small next to the memory
        available are read into the page cache in the background as they load
        (`warm_page_cache`, as for `vectors.faiss`)."""
        import bm25s

        from index.store.vectors import warm_page_cache

        bm25 = bm25s.BM25.load(str(path), mmap=mmap, allow_pickle=False)
        postings = len(bm25.scores["indices"])
        expected = {MAXIMA_FILE: len(bm25.scores["indptr"]) - 1, BLOCKS_FILE: block_count(postings)}
        kept: dict[str, np.ndarray] = {}
        for name, length in expected.items():
            if (path / name).is_file():  # not in an index written before it was kept
                kept[name] = np.load(path / name, allow_pickle=False)
                if kept[name].shape != (length,):
                    raise IndexCorruptError(
                        f"{path / name} does not match the keyword index's postings; rebuild the index"
                    )
        index = cls(bm25, kept.get(MAXIMA_FILE), kept.get(BLOCKS_FILE))
        for name in ("data", "indices"):
            array = index.bm25.scores[name]
            _advise(array, _RANDOM)
            if isinstance(array, np.memmap) and array.filename:
                if hasattr(os, "pread"):  # Unix; elsewhere searches read through the mapping
                    descriptor = os.open(array.filename, os.O_RDONLY)
                    weakref.finalize(index, os.close, descriptor)
                    index.files[name] = (descriptor, int(array.offset))
                warm_page_cache(Path(array.filename))  # when small next to the memory available
        return index

    @property
    def num_docs(self) -> int:
        """How many chunks are indexed."""
        return int(self.bm25.scores["num_docs"])

    def knows(self, token: str) -> bool:
        """True when some chunk holds the token."""
        return token in self.bm25.vocab_dict

    def idf(self, token: str) -> float:
        """BM25 IDF of a token; an unknown token gets the highest IDF."""
        token_id = self.bm25.vocab_dict.get(token)
        indptr = self.bm25.scores["indptr"]
        df = 0 if token_id is None else int(indptr[token_id + 1] - indptr[token_id])
        return smooth_idf(df, self.num_docs)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when no token is known)."""
        ids = self.bm25.get_tokens_ids(tokenize(query))
        if not ids:
            return np.zeros(self.bm25.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.bm25.get_scores(ids), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-k chunk positions with a positive score, best first (ties by position).

        A query whose words' posting lists are short scores only the chunks in them (a
        sparse product of the query with bm25s's token-by-chunk score matrix), so its time
        follows the postings touched, not the corpus size; one with long lists (more than
        an eighth of the chunks) is scored over a dense array, which is then faster. Either
        way the sums are bm25s's own, in its order (float32, token by token), so scores and
        ties are exactly those of `scores`. A query touching many postings is searched with
        MaxScore pruning first (`_search_pruned`), which gives the same hits.
        """
        ids = self.bm25.get_tokens_ids(tokenize(query))
        if not ids:
            return []
        indptr = self.bm25.scores["indptr"]
        spans = [(int(indptr[t]), int(indptr[t + 1])) for t in ids]
        postings = sum(end - start for start, end in spans)
        if getattr(self.bm25, "nonoccurrence_array", None) is not None:  # BM25L/+: every chunk scores
            return _top(np.arange(self.num_docs), self.scores(query), k)
        if postings > PRUNE_POSTINGS and k > 0 and len(spans) > 1:
            pruned = self._search_pruned(spans, k, ids)
            if pruned is not None:
                return pruned
        if postings * DENSE_FACTOR > self.num_docs:
            self._prefetch(spans)
            return _top(np.arange(self.num_docs), self.scores(query), k)
        chunks = np.concatenate([self._span("indices", start, end) for start, end in spans])
        weights = np.concatenate([self._span("data", start, end) for start, end in spans])
        touched, slot = np.unique(chunks, return_inverse=True)
        scores = np.zeros(len(touched), dtype=weights.dtype)
        np.add.at(scores, slot, weights)
        return _top(touched, scores, k)

    def _search_pruned(
        self, spans: list[tuple[int, int]], k: int, terms: Sequence[int]
    ) -> list[tuple[int, float]] | None:
        """The top k by MaxScore (Turtle and Flood 1995), as Lucene and PISA prune disjunctive
        queries; None when nothing could be pruned (the caller then scores every posting).

        Posting lists are read shortest first (rarest words, highest IDF). A chunk's weight for
        a word is at most the largest weight in the word's list (`maxima`, `terms` being the
        lists' term ids; for an index written without them, the word's IDF, which the "lucene"
        tf part tf / (tf + k1 (…)) keeps every weight below), so once the bounds of the lists
        not yet read add up to less than the k-th best partial score so far, a chunk in none of
        the lists read cannot reach the top k: the long lists of
        common words and bigrams are then only looked up (a binary search each) for the few
        chunks that can still make it. Those chunks are scored over every query token in
        bm25s's order (float32, token by token), so the hits and scores are exactly those of
        a full scan.
        """
        if self.maxima is not None:
            # a long list's largest weight is 0.74-0.88 of its IDF: 35.9 -> 30.5 ms p50 at 10M
            bound = [float(self.maxima[t]) * (1 + _SLACK) for t in terms]
        else:
            bound = [smooth_idf(end - start, self.num_docs) * (1 + _SLACK) for start, end in spans]
        order = sorted(range(len(spans)), key=lambda i: (spans[i][1] - spans[i][0], i))
        with _scratch(self.num_docs) as partial:  # partial scores (a lower bound, in any order)
            fresh: list[np.ndarray] = []  # the chunks each list read added to the touched ones
            rest, best, theta, read = sum(bound), 0.0, 0.0, 0
            try:
                for i in order[:-1]:
                    chunks = self._span("indices", *spans[i])
                    sums = partial[chunks]
                    fresh.append(chunks[sums == 0])  # every weight is positive
                    sums += self._span("data", *spans[i])  # a word's list holds each chunk once
                    partial[chunks] = sums
                    read += 1
                    rest -= bound[i]
                    best = max(best, float(sums.max(initial=0.0)))
                    if rest >= best * (1 - _SLACK):
                        continue  # not even the best chunk so far is sure to beat an unseen one
                    touched = np.concatenate(fresh)
                    if len(touched) < k:
                        continue
                    theta = _kth(partial[touched], k)
                    if rest < theta * (1 - _SLACK):
                        break
                else:
                    return None
                touched = np.concatenate(fresh)
                candidates = touched[partial[touched] + rest >= theta * (1 - _SLACK)]
                lower = partial[candidates]
            finally:
                for chunks in fresh:
                    partial[chunks] = 0
            slots = partial.view(np.int32)  # now 1 + each candidate's place, 0 for other chunks
            slots[candidates] = np.arange(1, len(candidates) + 1, dtype=np.int32)
            try:
                alive = np.ones(len(candidates), dtype=bool)
                # the weights of the lists looked up below, by list: exact for every candidate
                # still alive at the end, which was alive when its list was looked up
                columns: dict[int, np.ndarray] = {}
                for i in order[read:]:  # the rest, shortest first, looked up for the candidates left
                    columns[i] = self._column(candidates, alive, slots, *spans[i])
                    lower += columns[i]
                    rest -= bound[i]
                    if np.count_nonzero(alive) > k:
                        theta = max(theta, _kth(lower[alive], k))
                    alive &= lower + rest >= theta * (1 - _SLACK)
                    if 4 * np.count_nonzero(alive) < len(candidates):  # keep the live ones only
                        slots[candidates] = 0
                        candidates, lower = candidates[alive], lower[alive]
                        columns = {j: column[alive] for j, column in columns.items()}
                        slots[candidates] = np.arange(1, len(candidates) + 1, dtype=np.int32)
                        alive = np.ones(len(candidates), dtype=bool)
                scores = np.zeros(len(candidates), dtype=np.float32)
                for i, (start, end) in enumerate(spans):  # in the query's token order, as bm25s sums
                    if i not in columns:  # a list read before the candidates were chosen
                        columns[i] = self._column(candidates, alive, slots, start, end)
                    scores += columns[i]
            finally:
                slots[candidates] = 0
        return _top(candidates[alive], scores[alive], k)

    def _span(self, name: str, start: int, end: int) -> np.ndarray:
        """Elements start..end of the posting array `name` ("indices" or "data"): read from its
        file with pread when the array is memory-mapped, so that postings pass through the page
        cache without being mapped into this process, and a list is asked for in one request."""
        array = self.bm25.scores[name]
        opened = self.files.get(name)
        if opened is None:
            return np.asarray(array[start:end])
        descriptor, offset = opened
        size, at = (end - start) * array.itemsize, offset + start * array.itemsize
        data = os.pread(descriptor, size, at)
        while len(data) < size:  # one read returns at most about 2 GB on Linux
            more = os.pread(descriptor, size - len(data), at + len(data))
            if not more:
                raise IndexCorruptError(f"keyword index array {name!r} ends early; rebuild the index")
            data += more
        return np.frombuffer(data, dtype=array.dtype)

    def _column(
        self, candidates: np.ndarray, alive: np.ndarray, slots: np.ndarray, start: int, end: int
    ) -> np.ndarray:
        """Each live candidate's weight in the posting list start..end (sorted by chunk), 0
        where it is absent (a dead candidate's may be either): looked up (`_lookup`), or, when
        `_reads_whole` says so, one pass over the list read whole through `slots` (1 + a
        chunk's place among the candidates, 0 if it is none)."""
        weights = np.zeros(len(candidates), dtype=np.float32)
        live = np.flatnonzero(alive)
        if self._reads_whole(len(live), start, end):
            place = slots[self._span("indices", start, end)]
            hit = place > 0
            weights[place[hit] - 1] = self._span("data", start, end)[hit]
        else:
            weights[live] = self._lookup(candidates[live], start, end)
        return weights

    def _lookup(self, wanted: np.ndarray, start: int, end: int) -> np.ndarray:
        """Each wanted chunk's weight in the posting list start..end (sorted by chunk), 0 where
        it is absent.

        With the index's block firsts (BLOCKS_FILE) and its arrays on disk, each chunk's block
        is found in `firsts`, in memory, and only the blocks holding wanted chunks are read
        (`_span`, a run of adjacent blocks at a time; the whole list once they are a
        PAGE_LOOKUPS-th of its blocks). Binary searches through the mapping read the same
        pages, but every page they touched stayed mapped: at ten million chunks the posting
        arrays were 5.1 GB of the process's 10.4 GB RSS after 1,000 questions, 5.3 GB in all
        now, for an `ask` p50 5-8 ms slower warm, 10-25 ms from a cold cache (bench/RESULTS.md).
        Without block firsts (an index written before they were kept, or arrays in memory),
        binary searches through the mapping.
        """
        weights = np.zeros(len(wanted), dtype=np.float32)
        if end <= start or not len(wanted):
            return weights
        if self.firsts is None or len(self.files) < 2:
            # plain views of the arrays: np.memmap's own slicing costs ~30 µs a slice
            chunks = np.asarray(self.bm25.scores["indices"])[start:end]
            at = np.minimum(np.searchsorted(chunks, wanted), end - start - 1)
            found = chunks[at] == wanted
            weights[found] = np.asarray(self.bm25.scores["data"])[start:end][at[found]]
            return weights
        first, last = start // BLOCK, (end - 1) // BLOCK
        # every block after the list's first starts inside the list, with the chunk `firsts` names
        blocks = first + np.searchsorted(self.firsts[first + 1 : last + 1], wanted, side="right")
        order = np.argsort(blocks, kind="stable")
        ordered = blocks[order]
        needed = np.unique(ordered)
        if len(needed) * PAGE_LOOKUPS >= last - first + 1:
            runs = [np.array([first, last])]
        else:
            runs = np.split(needed, np.flatnonzero(np.diff(needed) > RUN_GAP) + 1)
        for run in runs:
            sel = order[np.searchsorted(ordered, run[0]) : np.searchsorted(ordered, run[-1], side="right")]
            lo, hi = max(start, int(run[0]) * BLOCK), min(end, (int(run[-1]) + 1) * BLOCK)
            chunks = self._span("indices", lo, hi)
            at = np.minimum(np.searchsorted(chunks, wanted[sel]), hi - lo - 1)
            found = chunks[at] == wanted[sel]
            if found.any():  # the weights between the first and last chunk found
                at = at[found]
                low, high = int(at.min()), int(at.max())
                weights[sel[found]] = self._span("data", lo + low, lo + high + 1)[at - low]
        return weights

    def _reads_whole(self, live: int, start: int, end: int) -> bool:
        """Whether `_column` should pass over the whole posting list start..end rather than
        binary-search it for `live` candidates.

        In memory a binary search costs about log2(length) steps a candidate, so the list is
        read whole once the candidates make that as many steps as the list holds postings.
        From disk the cost is the pages read: a list not yet in the page cache is read whole
        (in one request, `_span`) once its candidates are more than a PAGE_LOOKUPS-th of its
        pages, since their lookups (`_lookup`) would read about as many pages as it holds,
        each on its own. At ten million synthetic chunks that took the first 200 searches from
        a cold cache from 31.9 s to 15.7 s (to 20.7 s when lists were read whole whether
        cached or not, which slowed them when cached)."""
        length = end - start
        if live * max(1, length.bit_length()) >= length:
            return True
        indices = self.bm25.scores["indices"]
        per_page = mmap.PAGESIZE // indices.itemsize
        if length < PREFETCH_POSTINGS or live * PAGE_LOOKUPS * per_page < length:
            return False
        return live * PAGE_LOOKUPS * per_page * (1 - _cached_share(indices, start, end)) >= length

    def _prefetch(self, spans: Sequence[tuple[int, int]]) -> None:
        """Ask the kernel to read ahead the long posting lists that a scan of every chunk
        (bm25s's own scoring, through the mapping) is about to read."""
        for start, end in spans:
            if end - start >= PREFETCH_POSTINGS:
                for name in ("data", "indices"):
                    _advise(self.bm25.scores[name], _WILLNEED, start, end)


# Zeroed partial-score arrays kept for the next pruned searches: 4 bytes a chunk each (40 MB at
# ten million chunks), as many as searches have run at once, up to KEEP_SCRATCH
KEEP_SCRATCH = 2
_spare: list[np.ndarray] = []
_spare_lock = threading.Lock()


@contextmanager
def _scratch(n: int) -> Iterator[np.ndarray]:
    """A float32 array of `n` zeros for one search, which must leave it all zeros again."""
    with _spare_lock:
        while _spare and len(_spare[-1]) != n:  # arrays of an index of another size
            _spare.pop()
        partial = _spare.pop() if _spare else None
    if partial is None:
        partial = np.zeros(n, dtype=np.float32)
    yield partial
    with _spare_lock:
        if len(_spare) < KEEP_SCRATCH:
            _spare.append(partial)


_RANDOM = getattr(mmap, "MADV_RANDOM", None)  # Linux and most Unixes; None elsewhere (no advice)
_WILLNEED = getattr(mmap, "MADV_WILLNEED", None)


def _advise(array: Any, advice: int | None, start: int = 0, end: int | None = None) -> None:
    """madvise the pages of a memory-mapped array (elements start..end, all by default);
    nothing for an array read into memory, where madvise is missing or refuses (advice only
    changes how pages are read, never what a search finds)."""
    mapped = getattr(array, "_mmap", None)
    if advice is None or not isinstance(mapped, mmap.mmap) or not hasattr(mapped, "madvise"):
        return
    try:
        mapped.madvise(advice, *_page_range(array, start, len(array) if end is None else end))
    except OSError:
        pass


def _cached_share(array: Any, start: int, end: int) -> float:
    """The share of the pages holding elements start..end of a memory-mapped array that are in
    the page cache (mincore); 1.0 for an array in memory, or where mincore is missing or fails."""
    mapped = getattr(array, "_mmap", None)
    if _mincore is None or not isinstance(mapped, mmap.mmap) or end <= start:
        return 1.0
    first = array.ctypes.data + start * array.itemsize
    aligned = first - first % mmap.PAGESIZE
    length = first + (end - start) * array.itemsize - aligned
    pages = (length + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vector = (ctypes.c_ubyte * pages)()
    if _mincore(aligned, length, vector) != 0:
        return 1.0
    return float(np.count_nonzero(np.frombuffer(vector, dtype=np.uint8) & 1)) / pages


def _libc_mincore() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).mincore
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    function.restype = ctypes.c_int
    return function


_mincore = _libc_mincore() if sys.platform.startswith("linux") else None


def _page_range(array: Any, start: int, end: int) -> tuple[int, int]:
    """(offset, length) in its mapping of the pages holding elements start..end of an
    np.memmap, which maps its file from an allocation-granularity boundary."""
    first = array.offset % mmap.ALLOCATIONGRANULARITY + start * array.itemsize
    aligned = first - first % mmap.PAGESIZE
    return aligned, first + (end - start) * array.itemsize - aligned


def _kth(scores: np.ndarray, k: int) -> float:
    """The k-th highest of the scores (at least k of them)."""
    return float(np.partition(scores, len(scores) - k)[len(scores) - k])


def _top(positions: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The `k` best (position, score) pairs with a positive score, best first, ties by position
    (also at the cut: of chunks tied with the k-th, the first positions are kept)."""
    positive = scores > 0
    positions, scores = positions[positive], scores[positive]
    k = min(k, len(scores))
    if k <= 0:
        return []
    kth = np.partition(-scores, k - 1)[k - 1]
    near = np.flatnonzero(-scores <= kth)  # the k best and every chunk tied with the k-th
    top = near[np.lexsort((positions[near], -scores[near]))][:k]
    return [(int(positions[i]), float(scores[i])) for i in top]


@dataclass(frozen=True)
class ChunkTokens:
    """The keyword tokens of every chunk, stored as plain arrays (no pickle) beside the index."""

    vocab: tuple[str, ...]
    ids: np.ndarray  # uint32 token ids of all chunks, concatenated
    offsets: np.ndarray  # int64, chunk i has ids[offsets[i]:offsets[i + 1]]

    @classmethod
    def from_lists(cls, token_lists: Sequence[Sequence[str]]) -> ChunkTokens:
        """Pack token lists into arrays."""
        vocab: dict[str, int] = {}
        ids = [vocab.setdefault(t, len(vocab)) for tokens in token_lists for t in tokens]
        offsets = np.cumsum([0, *(len(tokens) for tokens in token_lists)], dtype=np.int64)
        return cls(tuple(vocab), np.asarray(ids, dtype=np.uint32), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> list[str]:
        """The tokens of chunk `i`."""
        return [self.vocab[t] for t in self.ids[self.offsets[i] : self.offsets[i + 1]]]

    def save(self, path: Path) -> None:
        """Write vocab.json, ids.npy and offsets.npy into `path`."""
        path.mkdir(parents=True, exist_ok=True)
        (path / "vocab.json").write_text(json.dumps(list(self.vocab), ensure_ascii=False), encoding="utf-8")
        np.save(path / "ids.npy", self.ids, allow_pickle=False)
        np.save(path / "offsets.npy", self.offsets, allow_pickle=False)

    @classmethod
    def load(cls, path: Path) -> ChunkTokens | None:
        """Read what `save` wrote; None when the index has no saved tokens (an older index)."""
        if not (path / "offsets.npy").is_file():
            return None
        vocab = tuple(json.loads((path / "vocab.json").read_text(encoding="utf-8")))
        ids = np.load(path / "ids.npy", allow_pickle=False)
        return cls(vocab, ids, np.load(path / "offsets.npy", allow_pickle=False))


def write_keyword_index(path: Path, token_lists: Sequence[Sequence[str]]) -> None:
    """Build and save the BM25 index and the chunk tokens it was built from."""
    KeywordIndex.from_tokens(token_lists).save(path)
    ChunkTokens.from_lists(token_lists).save(path / TOKENS_DIR)


def block_count(postings: int) -> int:
    """How many blocks of BLOCK postings (the last one short) hold `postings` postings."""
    return -(-postings // BLOCK)


def block_firsts(indices: np.ndarray) -> np.ndarray:
    """The chunk id of every BLOCK-th posting of the postings' chunk ids `indices` (int32)."""
    return np.asarray(indices[::BLOCK], dtype=np.int32)


def list_maxima(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """The largest weight of each term's posting list data[indptr[t]:indptr[t + 1]] (0 for an
    empty list), as float32."""
    maxima = np.zeros(len(indptr) - 1, dtype=np.float32)
    filled = np.flatnonzero(np.diff(indptr) > 0)
    if len(filled):  # the lists between two filled ones are empty: each reduce ends at the next
        maxima[filled] = np.maximum.reduceat(np.asarray(data), np.asarray(indptr)[filled])
    return maxima


def smooth_idf(df: int, n: int) -> float:
    """BM25's IDF, always positive."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))
