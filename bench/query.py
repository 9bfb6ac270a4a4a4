"""Query latency: `bot.ask` next to the bare query embedding, in one warm process.

Each round times, for every question, `bot.embedder.embed_queries([q])` and `bot.ask(q)`
back to back (their order alternates by round), so machine drift hits both alike. The
first pass over the questions (also the warm-up) is reported apart as "ask, first time":
then the sentences of the passages found are segmented for the first time, while later
rounds find them in `qa.answer`'s sentence-token cache, as recurring passages do in
service. A breakdown then re-runs the bot's steps one by one with the bot's own methods.

    python bench/query.py [--index DIR] [--questions FILE.jsonl] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import SEED_QA, machine_notes, memory_words, ms, pct


def read_questions(path: Path, limit: int) -> list[str]:
    """Questions of a JSONL file (field `question`)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows][: limit or None]


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - started, out


def ask_vs_embed(bot, questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Interleaved timings of bare embedding and full ask, `rounds` passes over the questions."""
    times: dict[str, list[float]] = {"embed": [], "ask": []}
    arms = [("embed", lambda: bot.embedder.embed_queries([q])), ("ask", lambda: bot.ask(q))]
    for r in range(rounds):
        for q in questions:
            for kind, call in arms if r % 2 == 0 else reversed(arms):
                seconds, _ = timed(call)
                times[kind].append(seconds)
    return times


def breakdown(bot, questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Seconds of each step of the real `Bot.ask`, from its trace."""
    steps: dict[str, list[float]] = {}
    for _ in range(rounds):
        for q in questions:
            for name, seconds in (bot.ask(q, trace=True).trace or {}).items():
                steps.setdefault(name, []).append(seconds)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index", type=Path, default=None, help="index directory (default: the sample index)"
    )
    parser.add_argument("--questions", type=Path, default=SEED_QA, help="JSONL with a `question` field")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N questions (0: all)")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the questions (default 5)")
    args = parser.parse_args()

    from qa.bot import load_bot

    print(f"machine: {machine_notes()}")
    t, bot = timed(load_bot, args.index, progress=False)
    questions = read_questions(args.questions, args.limit)
    print(
        f"index: {bot.index.root} ({len(bot.index.chunks)} chunks, faiss {bot.index.manifest['faiss']['type']}); "
        f"{len(questions)} questions x {args.rounds} rounds; load {t:.2f} s; {memory_words()}"
    )
    bot.ask("这是一个热身问题吗？")  # one-off costs: jieba's dictionary, first model call
    first = [timed(bot.ask, q)[0] for q in questions]
    times = ask_vs_embed(bot, questions, args.rounds)
    times["ask, first time"] = first
    e50 = pct(times["embed"], 50)
    for name, values in times.items():
        a50 = pct(values, 50)
        verdict = (
            ""
            if name == "embed"
            else (
                f"  ratio to bare embedding p50 {a50 / e50:.3f} (target on the sample "
                f"corpus <= 1.25: {'met' if a50 / e50 <= 1.25 else 'NOT met'})"
            )
        )
        print(f"{name:16s} p50 {ms(a50):>10s}  p95 {ms(pct(values, 95)):>10s}{verdict}")
    asked = 2 + len(questions) * (1 + args.rounds)
    print(f"after {asked} asks: {memory_words()}")
    steps = breakdown(bot, questions, args.rounds)
    total = sum(pct(v, 50) for v in steps.values())
    print(f"breakdown (p50 per step; sum of p50s {ms(total)}):")
    for name, values in steps.items():
        p50 = pct(values, 50)
        print(f"  {name:18s} p50 {ms(p50):>10s}  p95 {ms(pct(values, 95)):>10s}  {100 * p50 / total:5.1f} %")


if __name__ == "__main__":
    main()
