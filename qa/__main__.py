"""Command line: `python -m qa ask|eval|calibrate …`.

Exit statuses as `python -m index` (index.errors): 0 done, 1 unexpected error, 2 bad usage
or input, 3 the index cannot be used, 4 nothing written, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from index.errors import EXIT_INTERRUPTED, WendaError, exit_status, one_line
from qa.bot import Bot, load_bot
from qa.cite import Answer
from qa.question import QuestionError, check_question

ERRORS = (WendaError, ValueError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the qa command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except ERRORS as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa", description="Ask questions of an index.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", help="answer a question (or a file of questions)")
    ask.add_argument("question", nargs="?", help="the question")
    ask.add_argument(
        "--questions",
        type=Path,
        help="JSONL file with a 'question' field per line; prints one JSON line each",
    )
    ask.add_argument(
        "--history", action="append", default=[], help="an earlier question of the conversation (repeatable)"
    )
    ask.add_argument("--index", type=Path, help="index directory (default: the built-in sample index)")
    ask.add_argument("--top-k", type=int, default=5)
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.set_defaults(run=_ask)

    ev = commands.add_parser("eval", help="evaluate on a JSONL file of questions and answers")
    ev.add_argument(
        "qa_files", type=Path, nargs="+", metavar="QA.jsonl", help="one or more JSONL files, read together"
    )
    ev.add_argument("--index", type=Path)
    ev.add_argument(
        "--k", type=int, default=10, help="passages per question (recall is reported at 1, 5, 10)"
    )
    ev.add_argument("--format", choices=("table", "json"), default="table")
    ev.add_argument(
        "--show-misses",
        action="store_true",
        help="list the questions gone wrong: answer not in the first 5 passages, a false abstention, "
        "an unanswerable question answered",
    )
    ev.add_argument(
        "--dense-weight", type=float, help="override the fusion weight of dense retrieval (0 = keyword only)"
    )
    ev.add_argument(
        "--keyword-weight",
        type=float,
        help="override the fusion weight of keyword retrieval (0 = dense only)",
    )
    ev.set_defaults(run=_eval)

    cal = commands.add_parser(
        "calibrate", help="fit the abstention rule on answerable and unanswerable questions"
    )
    cal.add_argument(
        "qa_files",
        type=Path,
        nargs="+",
        metavar="QA.jsonl",
        help="questions with answers, and unanswerable ones (empty answers)",
    )
    cal.add_argument(
        "--index", type=Path, help="the index the QA files are asked of (default: the sample index)"
    )
    cal.add_argument(
        "--also",
        nargs="+",
        action="append",
        default=[],
        metavar=("INDEX", "QA.jsonl"),
        help="another index and the QA files asked of it (repeatable): one rule is fitted on all",
    )
    cal.add_argument(
        "--max-false-abstention",
        type=float,
        default=0.02,
        help="share of answerable questions allowed to abstain",
    )
    cal.add_argument("--write", action="store_true", help="store the fitted rule in the settings of --index")
    cal.set_defaults(run=_calibrate)
    return parser


def _ask(args: argparse.Namespace) -> int:
    if args.question is None and not args.questions:
        raise QuestionError("give a QUESTION or --questions FILE.jsonl")
    if args.question is not None:
        check_question(args.question, args.top_k)  # fail fast, before loading the model
    bot = load_bot(args.index, progress=False)
    if args.questions:
        return _ask_file(bot, args.questions, args.top_k)
    answer = bot.ask(args.question, top_k=args.top_k, history=args.history)
    print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) if args.json else render_text(answer))
    return 0


def _ask_file(bot: Bot, path: Path, top_k: int) -> int:
    """Answer each line of a JSONL file; a bad line yields an error object, not a crash."""
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                answer = bot.ask(row.get("question", ""), top_k=top_k, history=row.get("history") or [])
                out = answer.to_dict()
            except (json.JSONDecodeError, AttributeError, QuestionError) as exc:
                out = {"line": lineno, "error": str(exc)}
            print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def render_text(answer: Answer) -> str:
    """The answer for a terminal: the answer line, then the cited passages."""
    lines = [f"问：{answer.question}"]
    if answer.abstained:
        lines.append("答：文章中没有找到与这个问题直接相关的内容。以下是最接近的段落：")
    else:
        lines.append(f"答：{answer.answer} [1]")
    for p in answer.passages:
        text = p.text
        for start, end in reversed(p.highlights):
            text = f"{text[:start]}【{text[start:end]}】{text[end:]}"
        lines += ["", f"[{p.rank}] {p.citation.label()}  (相关度 {p.score:.2f})"]
        if p.also_in:
            more = f" 等{p.also_in_total}篇" if p.also_in_total > len(p.also_in) else ""
            lines.append("亦见于：" + "；".join(c.label() for c in p.also_in) + more)
        lines.append(text)
    return "\n".join(lines)


def _eval(args: argparse.Namespace) -> int:
    from qa import evaluate

    items = [item for path in args.qa_files for item in evaluate.read_items(path)]
    overrides = {
        k: v
        for k, v in (("dense_weight", args.dense_weight), ("keyword_weight", args.keyword_weight))
        if v is not None
    }
    bot = load_bot(args.index, progress=False, overrides=overrides)
    bot.ask("预热", top_k=1)  # the first call pays one-off costs; keep them out of the latency figures
    outcomes = evaluate.run(bot, items, k=args.k)
    figures = evaluate.report(outcomes)
    if args.format == "json":
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        print(evaluate.format_report(figures))
    if args.show_misses:
        for o in outcomes:
            kind = evaluate.failure(o)
            if kind is not None:
                print(f"{kind}: {o.item.id or ''} [{o.item.type}] {o.item.question} rank={o.rank}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import numpy as np

    from index.store import update_settings, writer_lock
    from qa import calibrate, evaluate

    sets = [
        (args.index, args.qa_files),
        *((Path(index), [Path(f) for f in files]) for index, *files in args.also),
    ]
    parts, names, bot = [], [], None
    for index_dir, files in sets:
        items = [item for path in files for item in evaluate.read_items(path)]
        part_bot = load_bot(index_dir, progress=False)
        bot = bot or part_bot
        x, vetoed = calibrate.features(part_bot, items)
        y = np.array([1.0 if item.answers else 0.0 for item in items])
        parts.append((x, y, vetoed))
        names.append(str(index_dir or "sample") + ": " + ", ".join(p.name for p in files))
        print(f"{names[-1]}: background {part_bot.background.to_dict()}")
    x = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    vetoed = np.concatenate([p[2] for p in parts])
    halves = [np.arange(len(p[1])) % 2 == 0 for p in parts]
    half = np.concatenate(halves)
    fitted_half = calibrate.calibrate(x[half], y[half], args.max_false_abstention, vetoed[half])
    print("held-out check (fit on even lines of every set, test on odd):")
    for name, (px, py, pv), even in zip(names, parts, halves):
        held = calibrate.evaluate_rule(
            fitted_half.weights, fitted_half.threshold, px[~even], py[~even], pv[~even]
        )
        print(
            f"  {name}: false abstentions {held.false_abstention_rate:.3f}, "
            f"abstention recall {held.abstention_recall:.3f}"
        )
    result = calibrate.calibrate(x, y, args.max_false_abstention, vetoed)
    source = "; ".join(names)
    print(result.describe(source))
    for name, (px, py, pv) in zip(names, parts):
        fit = calibrate.evaluate_rule(result.weights, result.threshold, px, py, pv)
        print(
            f"  {name}: false abstentions {fit.false_abstention_rate:.3f}, abstention recall {fit.abstention_recall:.3f}"
        )
    print(
        f"abstain_weights = {tuple(round(w, 3) for w in result.weights)}, abstain_threshold = {result.threshold:.4f}"
    )
    if args.write and bot is not None:
        settings = bot.index.settings
        retrieval = replace(
            bot.settings,
            abstain_weights=tuple(round(w, 4) for w in result.weights),
            abstain_threshold=round(result.threshold, 4),
            calibration=result.describe(source),
        )
        with writer_lock(bot.index.root):
            update_settings(bot.index.root, replace(settings, retrieval=retrieval.to_dict()))
        print(f"written to the settings of {bot.index.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
