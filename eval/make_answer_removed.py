"""Make a near-domain unanswerable set from an answerable one: remove the answers from the corpus.

Every sentence of a passage that holds an answer to one of its questions is deleted (answers
compared after NFKC and with whitespace removed, as `qa eval` compares them). The passage keeps
its title and every other sentence, so it still names the question's subject and most of its
words, but no longer states the fact asked for: the questions become unanswerable in the way a
reader's question about a fact the articles never state is ("蒋巨峰是哪一年出生的？" over a
biography without the year). A question is kept only when no answer of it is left in its
passage or title.

Unlike the hand-written sets, nobody chose these questions to fool the rule, and there are
hundreds of them. They show how far the answer's evidence tells "answers" from "mentions"
(bench figures: eval/README.md, "Answer-removed set").

The CMRC 2018 trial set is by Yiming Cui et al., "A Span-Extraction Dataset for Chinese
Machine Reading Comprehension" (EMNLP 2019), CC-BY-SA-4.0; the files written are an adaptation
under the same licence, written to a directory (default ``var/cmrc_answer_removed/``, which
git ignores) and not committed.

Usage (from the repository root)::

    .venv/bin/python eval/make_answer_removed.py --out var/cmrc_answer_removed
    .venv/bin/python -m index build --corpus var/cmrc_answer_removed/passages.jsonl --index var/index/cmrc-removed
    .venv/bin/python -m qa eval var/cmrc_answer_removed/unanswerable.jsonl --index var/index/cmrc-removed
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cmrc_files import REPO, arguments, finish, read_jsonl, write_jsonl  # puts the repository on the path

from index.text import split_sentences
from qa.evaluate import squash  # how `qa eval` matches answers

DEFAULT_OUT = REPO / "var" / "cmrc_answer_removed"
CREDIT = (
    "CMRC 2018 trial set (Yiming Cui et al., EMNLP 2019; CC-BY-SA-4.0) with every sentence that\n"
    "holds an answer removed, by eval/make_answer_removed.py. Licence: see LICENSE.\n"
)


def remove_answers(passages: list[dict], questions: list[dict]) -> tuple[list[dict], list[dict], int]:
    """The passages without their answer sentences, the questions left unanswerable (as
    `unanswerable` items), and how many sentences were removed."""
    by_passage: dict[str, list[dict]] = defaultdict(list)
    for question in questions:
        by_passage[question.get("gold_passage_id", "")].append(question)
    kept_passages, unanswerable, removed = [], [], 0
    for passage in passages:
        asked = by_passage.get(passage["id"], [])
        answers = {squash(a) for q in asked for a in q.get("answers", []) if squash(a)}
        text = passage["text"]
        sentences = [text[start:end] for start, end in split_sentences(text)]
        kept = [s for s in sentences if not any(a in squash(s) for a in answers)]
        removed += len(sentences) - len(kept)
        kept_passages.append({**passage, "text": "".join(kept)})
        left = squash(passage.get("title", "")) + squash("".join(kept))
        for question in asked:
            if any(squash(a) in left for a in question.get("answers", []) if squash(a)):
                continue  # the answer is still stated elsewhere in the passage
            unanswerable.append(
                {
                    "id": question.get("qid") or question.get("id"),
                    "question": question["question"],
                    "answers": [],
                    "type": "unanswerable",
                    "kind": "answer-removed",
                    "passage_id": passage["id"],
                }
            )
    return kept_passages, unanswerable, removed


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.splitlines()[0], DEFAULT_OUT, argv)
    if args is None:
        return 2
    passages, unanswerable, removed = remove_answers(
        read_jsonl(args.src / "passages.jsonl"), read_jsonl(args.src / "questions.jsonl")
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out / "passages.jsonl", passages)
    write_jsonl(args.out / "unanswerable.jsonl", unanswerable)
    finish(args.src, args.out, CREDIT)
    print(
        f"wrote {args.out}: {len(passages)} passages ({removed} sentences removed), "
        f"{len(unanswerable)} questions left unanswerable"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
