"""Convert the CMRC 2018 trial passages and questions to traditional characters.

The CMRC 2018 trial set is by Yiming Cui et al., "A Span-Extraction Dataset for Chinese
Machine Reading Comprehension" (EMNLP 2019), licensed CC-BY-SA-4.0; the converted files are
an adaptation under the same licence. They are written to a directory (default
``var/cmrc_traditional/``, which git ignores) and are not committed.

Conversion uses OpenCC with the ``s2t`` configuration (OpenCC's standard traditional forms,
e.g. 峯, 裏; not the Taiwan or Hong Kong variants). Fields converted: ``title`` and ``text``
of passages, ``question`` and ``answers`` of questions. An answer is taken from the
converted gold passage at the same offset when it can be, so it stays a verbatim span of the
traditional text even where OpenCC would convert the short answer on its own differently.

Usage (from the repository root)::

    .venv/bin/python eval/make_traditional.py --out var/cmrc_traditional
    .venv/bin/python -m index build --corpus var/cmrc_traditional/passages.jsonl --index var/index/cmrc-trad
    .venv/bin/python -m qa eval var/cmrc_traditional/questions.jsonl --index var/index/cmrc-trad
"""

from __future__ import annotations

import sys
from pathlib import Path

import opencc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cmrc_files import REPO, arguments, finish, read_jsonl, write_jsonl  # the folder is on the path

DEFAULT_OUT = REPO / "var" / "cmrc_traditional"
CREDIT = (
    "CMRC 2018 trial set (Yiming Cui et al., EMNLP 2019; CC-BY-SA-4.0), converted to traditional\n"
    "characters with OpenCC 's2t' by eval/make_traditional.py. Licence: see LICENSE.\n"
)


def convert_answer(answer: str, simplified: str, traditional: str, converter: opencc.OpenCC) -> str:
    """The traditional form of an answer, sliced from its converted passage when possible."""
    start = simplified.find(answer)
    if start >= 0 and len(simplified) == len(traditional):
        return traditional[start : start + len(answer)]
    return converter.convert(answer)


def convert(src: Path, out: Path) -> dict[str, int]:
    """Convert passages.jsonl and questions.jsonl from src into out; return counts."""
    converter = opencc.OpenCC("s2t")
    passages = read_jsonl(src / "passages.jsonl")
    pairs = {}
    for row in passages:
        simplified = row["text"]
        row["title"] = converter.convert(row["title"])
        row["text"] = converter.convert(simplified)
        pairs[row["id"]] = (simplified, row["text"])
    questions = read_jsonl(src / "questions.jsonl")
    missing = 0
    for row in questions:
        simplified, traditional = pairs.get(row.get("gold_passage_id"), ("", ""))
        row["question"] = converter.convert(row["question"])
        row["answers"] = [convert_answer(a, simplified, traditional, converter) for a in row["answers"]]
        missing += bool(traditional) and not any(a in traditional for a in row["answers"])
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "passages.jsonl", passages)
    write_jsonl(out / "questions.jsonl", questions)
    finish(src, out, CREDIT)
    return {"passages": len(passages), "questions": len(questions), "answers_not_in_passage": missing}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    args = arguments(__doc__.splitlines()[0], DEFAULT_OUT, argv)
    if args is None:
        return 2
    counts = convert(args.src, args.out)
    print(
        f"wrote {args.out}: {counts['passages']} passages, {counts['questions']} questions, "
        f"{counts['answers_not_in_passage']} questions whose answers are not in their converted passage"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
