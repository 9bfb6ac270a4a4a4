"""What the scripts deriving sets from the CMRC 2018 trial files share: their command line
(`--src` with passages.jsonl and questions.jsonl, `--out`), JSONL files and the licence copy.

The CMRC 2018 trial set is by Yiming Cui et al., "A Span-Extraction Dataset for Chinese
Machine Reading Comprehension" (EMNLP 2019), CC-BY-SA-4.0.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the scripts run from eval/ use the project's own modules

from index.files import read_jsonl, write_jsonl  # after the repository is on the path

__all__ = ["DEFAULT_SRC", "REPO", "arguments", "finish", "read_jsonl", "write_jsonl"]

DEFAULT_SRC = REPO.parent / "shared" / "eval" / "cmrc2018_trial"


def arguments(description: str, default_out: Path, argv: list[str] | None) -> argparse.Namespace | None:
    """`--src` and `--out`; None (after a one-line error) when --src lacks the trial files."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--src", type=Path, default=DEFAULT_SRC, help="directory with passages.jsonl and questions.jsonl"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=default_out,
        help=f"output directory (default {default_out.relative_to(REPO)}/)",
    )
    args = parser.parse_args(argv)
    for name in ("passages.jsonl", "questions.jsonl"):
        if not (args.src / name).is_file():
            print(
                f"error: {args.src / name} not found; pass --src DIR holding the CMRC trial files",
                file=sys.stderr,
            )
            return None
    return args


def finish(src: Path, out: Path, credit: str) -> None:
    """Copy the trial set's licence beside the derived files and write the credit."""
    if (src / "LICENSE").is_file():
        shutil.copyfile(src / "LICENSE", out / "LICENSE")
    (out / "README.txt").write_text(credit, encoding="utf-8")
