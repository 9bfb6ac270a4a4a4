"""Answer recall of real questions inside a large synthetic index, with latency and memory.

For an index written by `bench/scale.py --write-index` (real chunks of the CMRC trial index
plus synthetic ones made of their sentences): every question is asked once (top 10), and
the script prints recall@1/@5 two ways (a passage holding a gold answer, as `python -m qa
eval` counts it; and a passage of a *real* article holding it, article ids not starting
with `synthetic/`, which is what the synthetic distractors could take away), false
abstentions, the `ask` p50/p95 (after one warm-up question) and the RSS after all of them.
Run it on the small index too for the comparison.

With --ann it also measures what approximate search itself loses on these questions: the
recall@10 of the index's dense search (as the bot searches it) against exact inner-product
search over every stored vector, so a recall drop in a big index can be told apart into the
ANN's share and the distractors'.

With --settled N it also prints the p50/p95 of the questions after the first N: a server that
has answered N questions holds the posting lists and vectors of common words and regions in
the page cache, and the questions after them, each asked for the first time (in the CMRC
trial file some are about articles asked about before, as a server's would be), show its
settled latency: between a cold cache's and a warm one's (the same questions asked again).

    python bench/big_recall.py --index /tmp/idx-1m --questions CMRC/questions.jsonl [--limit 1000] [--settled 500] [--ann [--ef-search 512,2048]]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import disk_read_bytes, keep_top, machine_notes, memory_words, ms, pct


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True, help="JSONL with `question` and `answers`")
    parser.add_argument("--limit", type=int, default=0, help="the first N questions (0: all)")
    parser.add_argument(
        "--articles",
        type=Path,
        default=None,
        help="only questions whose gold_passage_id is listed in this file (scale.py --held-out)",
    )
    parser.add_argument(
        "--settled", type=int, default=0, help="also the latency of the questions after the first N"
    )
    parser.add_argument("--ann", action="store_true", help="also: ANN recall@10 against exact search")
    parser.add_argument("--ef-search", default="512,2048", help="with --ann on HNSW: also at these efSearch")
    args = parser.parse_args()

    from qa.bot import load_bot
    from qa.evaluate import read_items, squash

    print(f"machine: {machine_notes()}")
    started = time.perf_counter()
    bot = load_bot(args.index, progress=False)
    items = [i for i in read_items(args.questions) if i.answers]
    if args.articles:  # the questions about articles no synthetic chunk was made from
        wanted = set(args.articles.read_text(encoding="utf-8").split())
        with args.questions.open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        ids = {row.get("id") or row.get("qid") for row in rows if row.get("gold_passage_id") in wanted}
        items = [i for i in items if i.id in ids]
    items = items[: args.limit or None]
    print(
        f"index: {args.index} ({len(bot.index.chunks):,} chunks, faiss {bot.index.manifest['faiss']['type']}); "
        f"load_bot {time.perf_counter() - started:.2f} s; {memory_words()}"
    )
    bot.ask("这是一个热身问题吗？")
    times, any_rank, real_rank, abstained = [], [], [], 0
    read_before = disk_read_bytes()
    for item in items:
        started = time.perf_counter()
        answer = bot.ask(item.question, top_k=10)
        times.append(time.perf_counter() - started)
        gold = [squash(a) for a in item.answers if squash(a)]
        holding = [p for p in answer.passages if any(g in squash(p.text) for g in gold)]
        real = [p for p in holding if not p.citation.article_id.startswith("synthetic/")]
        any_rank.append(holding[0].rank if holding else None)
        real_rank.append(real[0].rank if real else None)
        abstained += answer.abstained
    n = len(items)
    read = disk_read_bytes() - read_before

    def at(ranks, k):
        return sum(r is not None and r <= k for r in ranks) / n

    print(
        f"{n} questions: ask p50 {ms(pct(times, 50))}, p95 {ms(pct(times, 95))}; after them {memory_words()}"
    )
    print(
        f"  read from disk while asking: {read / 2**20:,.0f} MB ({read / 2**20 / max(n, 1):.2f} MB a question)"
    )
    if 0 < args.settled < n:
        later = times[args.settled :]
        print(
            f"  the {len(later)} questions after the first {args.settled}: "
            f"ask p50 {ms(pct(later, 50))}, p95 {ms(pct(later, 95))}"
        )
    print(
        f"  recall@1 {at(any_rank, 1):.3f}  recall@5 {at(any_rank, 5):.3f}  (any passage holding an answer)"
    )
    print(f"  recall@1 {at(real_rank, 1):.3f}  recall@5 {at(real_rank, 5):.3f}  (a real article's passage)")
    print(f"  false abstentions {abstained} ({abstained / n:.1%})")
    if args.ann:
        ann_recall(bot, [i.question for i in items], [int(x) for x in args.ef_search.split(",") if x])


def ann_recall(bot, questions: list[str], ef_search: list[int], k: int = 10, block: int = 65_536) -> None:
    """Recall@k of the bot's dense search against exact search over all stored vectors (vids
    are 0..n-1 in a built index), how close the exact top k lie (near-ties make recall@k a
    harsh measure), and how many of the exact top-k slots are real chunks, not synthetic ones;
    for an HNSW index, again at each efSearch of `ef_search`."""
    import faiss
    import numpy as np

    vectors = np.asarray(bot.embedder.embed_queries(questions), dtype=np.float32)
    started = time.perf_counter()
    stored = bot.dense.vectors
    best_scores = np.full((len(vectors), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(vectors), k), -1, dtype=np.int64)
    ids = np.arange(stored.ntotal, dtype=np.int64)
    for start in range(0, len(ids), block):
        part = ids[start : start + block]
        best_scores, best_ids = keep_top(best_scores, best_ids, vectors @ stored.reconstruct(part).T, part, k)
    chunks = bot.index.chunks
    real = np.mean([not chunks[int(i)].chunk.article_id.startswith("synthetic/") for i in best_ids.ravel()])
    print(
        f"  exact dense top {k} of {len(vectors)} questions ({time.perf_counter() - started:.1f} s): "
        f"cosine spread from 1st to {k}th {np.mean(best_scores[:, 0] - best_scores[:, -1]):.4f}; "
        f"real chunks in {real:.1%} of its slots"
    )
    inner = faiss.downcast_index(getattr(stored.index, "index", stored.index))
    settings = [None, *ef_search] if hasattr(inner, "hnsw") else [None]
    for ef in settings:
        if ef is not None:
            inner.hnsw.efSearch = ef
        times, hits, tenth = [], 0, []
        for vector, truth in zip(vectors, best_ids):
            begun = time.perf_counter()
            found, scores = stored.search(vector, k)
            times.append(time.perf_counter() - begun)
            hits += len(set(found.tolist()) & set(truth.tolist()))
            tenth.append(scores[-1])
        label = "as stored" if ef is None else f"efSearch {ef}"
        print(
            f"  dense ANN ({label}): recall@{k} against exact {hits / (k * len(vectors)):.4f}; "
            f"{k}th cosine {np.mean(tenth) - np.mean(best_scores[:, -1]):+.4f} from the exact {k}th; "
            f"p50 {ms(pct(times, 50))}"
        )


if __name__ == "__main__":
    main()
