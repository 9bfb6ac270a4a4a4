"""Answer recall of real questions inside a large synthetic index, with latency and memory.

For an index written by `bench/scale.py --write-index` (real chunks of the CMRC trial index
plus synthetic ones made of their sentences): every question is asked once (top 10), and
the script prints recall@1/@5 two ways (a passage holding a gold answer, as `python -m qa
eval` counts it; and a passage of a *real* article holding it, article ids not starting
with `synthetic/`, which is what the synthetic distractors could take away), false
abstentions, the `ask` p50/p95 (after one warm-up question) and the RSS after all of them.
Run it on the small index too for the comparison.

    python bench/big_recall.py --index /tmp/idx-1m --questions CMRC/questions.jsonl [--limit 1000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import machine_notes, memory_words, ms, pct


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True, help="JSONL with `question` and `answers`")
    parser.add_argument("--limit", type=int, default=0, help="the first N questions (0: all)")
    args = parser.parse_args()

    from qa.bot import load_bot
    from qa.evaluate import read_items, squash

    print(f"machine: {machine_notes()}")
    started = time.perf_counter()
    bot = load_bot(args.index, progress=False)
    items = [i for i in read_items(args.questions) if i.answers][: args.limit or None]
    print(
        f"index: {args.index} ({len(bot.index.chunks):,} chunks, faiss {bot.index.manifest['faiss']['type']}); "
        f"load_bot {time.perf_counter() - started:.2f} s; {memory_words()}"
    )
    bot.ask("这是一个热身问题吗？")
    times, any_rank, real_rank, abstained = [], [], [], 0
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

    def at(ranks, k):
        return sum(r is not None and r <= k for r in ranks) / n

    print(
        f"{n} questions: ask p50 {ms(pct(times, 50))}, p95 {ms(pct(times, 95))}; after them {memory_words()}"
    )
    print(
        f"  recall@1 {at(any_rank, 1):.3f}  recall@5 {at(any_rank, 5):.3f}  (any passage holding an answer)"
    )
    print(f"  recall@1 {at(real_rank, 1):.3f}  recall@5 {at(real_rank, 5):.3f}  (a real article's passage)")
    print(f"  false abstentions {abstained} ({abstained / n:.1%})")


if __name__ == "__main__":
    main()
