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

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.text import tokenize

KEYWORD_DIR = "keyword"
TOKENS_DIR = "tokens"  # inside KEYWORD_DIR
# Score over a dense array once the postings touched exceed 1/DENSE_FACTOR of the chunks:
# sorting that many postings then costs more than a pass over every chunk (bench/RESULTS.md)
DENSE_FACTOR = 8


@dataclass
class KeywordIndex:
    """A BM25 index over chunk texts, in chunk-position order."""

    bm25: Any  # bm25s.BM25 (untyped)

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
        return cls(bm25)

    def save(self, path: Path) -> None:
        """Write the index as bm25s's plain files (JSON and .npy, no pickle)."""
        self.bm25.save(str(path), allow_pickle=False)

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> KeywordIndex:
        """Read an index written by `save`; its score arrays memory-mapped unless `mmap` is False
        (they stay in the page cache, and only the postings a query touches are read)."""
        import bm25s

        return cls(bm25s.BM25.load(str(path), mmap=mmap, allow_pickle=False))

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
        ties are exactly those of `scores`.
        """
        ids = self.bm25.get_tokens_ids(tokenize(query))
        if not ids:
            return []
        data, indices, indptr = (self.bm25.scores[name] for name in ("data", "indices", "indptr"))
        spans = [(int(indptr[t]), int(indptr[t + 1])) for t in ids]
        dense = sum(end - start for start, end in spans) * DENSE_FACTOR > self.num_docs
        if dense or getattr(self.bm25, "nonoccurrence_array", None) is not None:  # BM25L/+: all score
            return _top(np.arange(self.num_docs), self.scores(query), k)
        chunks = np.concatenate([indices[start:end] for start, end in spans])
        weights = np.concatenate([data[start:end] for start, end in spans])
        touched, slot = np.unique(chunks, return_inverse=True)
        scores = np.zeros(len(touched), dtype=weights.dtype)
        np.add.at(scores, slot, weights)
        return _top(touched, scores, k)


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


def smooth_idf(df: int, n: int) -> float:
    """BM25's IDF, always positive."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))
