"""kill -9 in the middle of a large build, then the same command again (issue 15).

Writes a JSONL corpus of N short synthetic articles (sentences of the CMRC 2018 trial
passages, CC-BY-SA-4.0, Cui et al., numbered so that no two are alike), then runs
`python -m index build` on it three times, each in a forked process with a fast
deterministic embedder in place of the model (vectors drawn from each text's hash; the
embedding time is not the point):

1. uninterrupted, into WORK/straight;
2. into WORK/resumed, killed with SIGKILL once the durable embedding cache holds
   --kill-at of the chunks;
3. the same command again, logging every text it embeds.

It prints how long each run took and what the rerun embedded, and checks that nothing the
killed run had cached was embedded again and that the resumed index equals the
uninterrupted one (chunk ids, vids, every vector, the BM25 arrays). Exit status 1 if not.

    python bench/resume.py --chunks 1000000 --work /tmp/resume-1m [--index-type ivfsq8]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from _common import rss_mb

CMRC = Path(__file__).resolve().parents[2] / "shared" / "eval" / "cmrc2018_trial" / "passages.jsonl"


class HashEmbedder:
    """Unit vectors drawn from each text's hash: deterministic, fast, no model."""

    model_id = "bench/hash-embedder"
    fingerprint = "hash0001"
    prompts: ClassVar[dict[str, str | None]] = {"query": None, "passage": None}

    def __init__(self, dimension: int, log: Path | None = None) -> None:
        self.dimension, self.log = dimension, log

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dimension, dtype=np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectors(texts)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        vectors = self._vectors(texts)
        if self.log is not None:
            from index.documents import content_hash

            with self.log.open("a", encoding="ascii") as out:
                out.write("".join(content_hash(t) + "\n" for t in texts))
        return vectors


def write_corpus(path: Path, n: int, seed: int = 0) -> None:
    """N articles of two or three CMRC sentences each, numbered."""
    sentences: list[str] = []
    with CMRC.open(encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            sentences += [s + "。" for s in text.split("。") if 8 <= len(s) <= 80]
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            picks = rng.integers(0, len(sentences), size=int(rng.integers(2, 4)))
            text = f"第{i}号。" + "".join(sentences[p] for p in picks)
            out.write(
                json.dumps({"id": f"b{i:08d}", "title": f"合成新闻 {i}", "text": text}, ensure_ascii=False)
            )
            out.write("\n")


def _build(corpus: Path, root: Path, dimension: int, index_type: str, log: Path | None) -> None:
    """The child: `python -m index build` with the hash embedder in place of the model."""
    import index.build
    from index.__main__ import main

    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the process may be killed
    index.build.make_embedder = lambda settings, progress=True: HashEmbedder(dimension, log)  # type: ignore[assignment]
    argv = ["build", "--corpus", str(corpus), "--index", str(root), "--quiet"]
    os._exit(main([*argv, "--index-type", index_type] if index_type else argv))


def _cached(root: Path) -> int:
    """How many vectors the durable embedding cache holds (its hash lines)."""
    from index.store.spool import CACHE_DIR

    folder = root / CACHE_DIR
    total = 0
    for path in folder.glob("*.hashes") if folder.exists() else []:
        with path.open("rb") as handle:
            first = handle.readline()
        if first.endswith(b"\n"):  # one hash a line, all of one length
            total += path.stat().st_size // len(first)
    return total


def _run(
    corpus: Path, root: Path, args, log: Path | None = None, kill_at: int | None = None
) -> tuple[int, float]:
    fork = multiprocessing.get_context("fork")
    started = time.perf_counter()
    child = fork.Process(target=_build, args=(corpus, root, args.dimension, args.index_type, log))
    child.start()
    if kill_at is not None:
        while child.is_alive() and _cached(root) < kill_at:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    child.join()
    return child.exitcode or 0, time.perf_counter() - started


def _same(resumed, straight) -> list[str]:
    """What differs between two loaded indexes (empty when they are the same)."""
    from index.store.keyword import ARRAY_FILES, KEYWORD_DIR

    wrong = []
    if [c.chunk.id for c in resumed.chunks] != [c.chunk.id for c in straight.chunks]:
        wrong.append("chunk ids")
    vids = [c.vid for c in straight.chunks]
    if [c.vid for c in resumed.chunks] != vids:
        wrong.append("vids")
    for start in range(0, len(vids), 100_000):
        block = vids[start : start + 100_000]
        if not np.array_equal(resumed.vectors.reconstruct(block), straight.vectors.reconstruct(block)):
            wrong.append(f"vectors from chunk {start}")
            break
    for name in ARRAY_FILES:
        a = np.load(resumed.path(KEYWORD_DIR) / name, mmap_mode="r")
        b = np.load(straight.path(KEYWORD_DIR) / name, mmap_mode="r")
        if not np.array_equal(a, b):
            wrong.append(name)
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=1_000_000, help="articles to write (one chunk each)")
    parser.add_argument("--work", type=Path, required=True, help="a scratch directory (emptied first)")
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of the chunks cached when killed")
    parser.add_argument("--dimension", type=int, default=384, help="vector width (the default model's)")
    parser.add_argument("--index-type", default="", help="FAISS type (default: auto)")
    args = parser.parse_args()
    import shutil

    from index.store import load_index

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    corpus, log = args.work / "corpus", args.work / "rerun-embedded.log"
    corpus.mkdir()
    started = time.perf_counter()
    write_corpus(corpus / "news.jsonl", args.chunks)
    print(f"corpus of {args.chunks:,} articles written in {time.perf_counter() - started:.1f} s")

    code, seconds = _run(corpus, args.work / "straight", args)
    print(f"uninterrupted build: exit {code}, {seconds:.1f} s")
    if code:
        return 1
    straight = load_index(args.work / "straight", verify=False)
    total = len(straight.chunks)
    code, seconds = _run(corpus, args.work / "resumed", args, kill_at=int(args.kill_at * total))
    cached = _cached(args.work / "resumed")
    print(
        f"killed build: exit {code} (SIGKILL is {-signal.SIGKILL}) after {seconds:.1f} s, {cached:,} of {total:,} chunks cached"
    )
    from index.store.spool import CACHE_DIR, EmbedCache

    # what the killed run cached, as the rerun will find it (complete batches only)
    hashes = set(EmbedCache(args.work / "resumed", HashEmbedder.fingerprint, args.dimension).rows)
    code, seconds = _run(corpus, args.work / "resumed", args, log=log)
    again = log.read_text(encoding="ascii").split() if log.exists() else []
    twice = len(set(again) & hashes)
    print(
        f"same command again: exit {code}, {seconds:.1f} s; embedded {len(again):,} chunks "
        f"({total - cached:,} were left), {twice:,} of them cached before; RSS of this script {rss_mb():.0f} MB"
    )
    resumed = load_index(args.work / "resumed", verify=False)
    embedded = json.loads((resumed.generation / "manifest.json").read_text())["change"]["embedded"]
    wrong = _same(resumed, straight)
    print(
        f"manifest change.embedded {embedded:,}; cache left behind: {(args.work / 'resumed' / CACHE_DIR).exists()}"
    )
    print("resumed index equals the uninterrupted one" if not wrong else f"DIFFERS: {', '.join(wrong)}")
    return 0 if code == 0 and not twice and not wrong and embedded == len(again) else 1


if __name__ == "__main__":
    raise SystemExit(main())
