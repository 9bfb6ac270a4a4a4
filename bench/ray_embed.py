"""Embedding throughput on a Ray actor pool (index.distributed.RayEmbedder) with 1 and 2 workers,
next to the single-process embedder, on the same chunk texts (the CMRC 2018 trial passages).

Each Ray run starts a local Ray on 127.0.0.1 and an actor pool whose actors load the model, so
its wall time includes that start-up; the steady rate is measured from the first finished
batch to the last (what a long job sees). Tokens are counted with the model's tokenizer.

    python bench/ray_embed.py [--chunks N] [--workers 1,2] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a local Ray: every address 127.0.0.1
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from _common import CMRC_DIR, machine_notes
from indexing import count_tokens, load_chunks


def rate(chunks: int, tokens: int, seconds: float) -> str:
    return f"{chunks / seconds:6.1f} chunks/s {tokens / seconds:6.0f} tokens/s"


def local_run(texts: list[str], tokens: int) -> None:
    from index.embed import make_embedder
    from index.writer import embed_passages

    embedder = make_embedder(progress=False)
    embed_passages(embedder, texts[:8], progress=False)  # warm up
    started = time.perf_counter()
    embed_passages(embedder, texts, progress=False)
    seconds = time.perf_counter() - started
    print(
        f"single process (torch threads {_torch_threads()}): {seconds:6.1f} s  {rate(len(texts), tokens, seconds)}"
    )


def ray_run(texts: list[str], tokens: int, workers: int, batch_size: int) -> None:
    from functools import partial

    from index.distributed import RayEmbedder, RayOptions, ray_session
    from index.embed import make_embedder
    from index.settings import EmbedSettings

    options = RayOptions(workers=workers, batch_size=batch_size)
    started = time.perf_counter()
    with ray_session(options) as ray:
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        embedder = RayEmbedder(ray, partial(make_embedder, progress=False), EmbedSettings(), options)
        ready = time.perf_counter()
        first = last = None
        done = 0
        for batch in embedder.embed_batches(texts, batch_size):
            now = time.perf_counter()
            if first is None:
                first, first_rows = now, len(batch)
            last = now
            done += len(batch)
        assert done == len(texts)
    total = time.perf_counter() - started
    steady_rows = done - first_rows
    steady_tokens = tokens * steady_rows / done
    steady = (last - first) if last and first and last > first else float("nan")
    print(
        f"ray, {workers} worker(s), batch {batch_size}: wall {total:6.1f} s (Ray up + model identity {ready - started:4.1f} s, "
        f"first batch at {first - ready:4.1f} s); whole job {rate(done, tokens, total)}; "
        f"steady {rate(steady_rows, int(steady_tokens), steady)}"
    )


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=CMRC_DIR / "passages.jsonl")
    parser.add_argument("--chunks", type=int, default=320, help="chunk texts to embed")
    parser.add_argument("--workers", default="1,2", help="comma-separated actor pool sizes")
    parser.add_argument("--batch-size", type=int, default=32, help="chunks per actor call")
    parser.add_argument("--no-local", action="store_true", help="skip the single-process run")
    args = parser.parse_args()
    if not args.corpus.exists():
        print(f"no corpus at {args.corpus}: set WENDA_SHARED or pass --corpus", file=sys.stderr)
        return 2
    print(machine_notes())
    with tempfile.TemporaryDirectory() as tmp:
        _, _, _, texts = load_chunks(args.corpus, 0, Path(tmp))
    texts = texts[: args.chunks]
    from index.embed.torch_st import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder(progress=False)
    tokens = count_tokens(model.model, texts, model.prompts.get("passage") or "")
    del model
    print(f"{len(texts)} chunks, {tokens} tokens ({tokens / len(texts):.0f} per chunk)")
    if not args.no_local:
        local_run(texts, tokens)
    for workers in (int(w) for w in args.workers.split(",") if w):
        ray_run(texts, tokens, workers, args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
