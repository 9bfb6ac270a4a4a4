"""Keyword search on a written index: MaxScore pruning against scoring every posting touched.

For each question the keyword index is searched both ways, in alternating order (so that
neither always finds the pages the other read), and the two top-k lists are compared: the
pruned search must return the very same hits and scores. Prints p50/p95 of each and how
many postings the questions touch.

    python bench/keyword.py --index DIR --questions QA.jsonl [--limit 200] [--start 0] [--k 50]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import CMRC_DIR, machine_notes, memory_words, ms, pct


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--questions", type=Path, default=CMRC_DIR / "questions.jsonl")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--start", type=int, default=0, help="skip this many questions first")
    parser.add_argument("--k", type=int, default=50, help="hits per search (the bot asks for 50)")
    args = parser.parse_args()

    import index.store.keyword as keyword_module
    from index.store import live_generation
    from index.text import tokenize

    print(f"machine: {machine_notes()}")
    keyword = keyword_module.KeywordIndex.load(live_generation(args.index) / keyword_module.KEYWORD_DIR)
    with args.questions.open(encoding="utf-8") as handle:
        questions = [json.loads(line)["question"] for line in handle if line.strip()]
    questions = questions[args.start : args.start + args.limit]
    indptr = keyword.bm25.scores["indptr"]
    pruned_at = keyword_module.PRUNE_POSTINGS
    ways = {"every posting": 1 << 62, "MaxScore": pruned_at}
    times: dict[str, list[float]] = {way: [] for way in ways}
    touched, same = [], 0
    for i, question in enumerate(questions):
        ids = keyword.bm25.get_tokens_ids(tokenize(question))
        touched.append(sum(int(indptr[t + 1] - indptr[t]) for t in ids))
        hits = {}
        for way in list(ways)[:: 1 if i % 2 else -1]:
            keyword_module.PRUNE_POSTINGS = ways[way]
            started = time.perf_counter()
            hits[way] = keyword.search(question, args.k)
            times[way].append(time.perf_counter() - started)
        same += len({tuple(h) for h in hits.values()}) == 1
    keyword_module.PRUNE_POSTINGS = pruned_at
    print(
        f"{keyword.num_docs:,} chunks; {len(questions)} questions touching p50 {pct(touched, 50):,.0f} "
        f"postings (p95 {pct(touched, 95):,.0f}); MaxScore above {pruned_at:,}"
    )
    for way, values in times.items():
        print(f"  {way:<14} p50 {ms(pct(values, 50))}  p95 {ms(pct(values, 95))}")
    print(f"  same top {args.k} (hits and scores) both ways: {same} of {len(questions)}; {memory_words()}")


if __name__ == "__main__":
    main()
