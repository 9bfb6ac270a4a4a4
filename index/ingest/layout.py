"""Text cleaning: small named steps, and the repair of hard-wrapped newspaper layout.

Raw text goes through `RAW_STEPS` (file-level), then `parse_layout` rebuilds paragraphs and
headings from hard-wrapped lines, then each block goes through `BLOCK_STEPS`. Every step is
named so that settings can switch it off.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from index.text import CJK, HEADING_PUNCT, LINE_END

Step = Callable[[str], str]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200e\u200f\ufeff]")
_CJK_GAP = re.compile(f"(?<=[{CJK}])[ \\t\\u3000]+(?=[{CJK}0-9])|(?<=[0-9])[ \\t\\u3000]+(?=[{CJK}])")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")


def strip_bom(text: str) -> str:
    """Drop a leading byte-order mark."""
    return text.removeprefix("\ufeff")


def normalize_newlines(text: str) -> str:
    """Turn CRLF, CR and Unicode line separators into plain newlines."""
    return re.sub(r"\r\n?|[\u2028\u2029\x0b\x0c]", "\n", text)


def drop_control_chars(text: str) -> str:
    """Remove control and zero-width characters that OCR and web copies leave behind."""
    return _CONTROL.sub("", text)


def nfkc(text: str) -> str:
    """Unicode NFKC; off by default because it turns full-width punctuation into ASCII."""
    return unicodedata.normalize("NFKC", text)


def collapse_cjk_spaces(text: str) -> str:
    """Remove OCR spaces between Chinese characters, and between them and digits."""
    return _CJK_GAP.sub("", text)


def collapse_spaces(text: str) -> str:
    """Fold runs of spaces into one and trim the ends."""
    return _SPACES.sub(" ", text).strip()


RAW_STEPS: dict[str, Step] = {
    "strip_bom": strip_bom,
    "normalize_newlines": normalize_newlines,
    "drop_control_chars": drop_control_chars,
    "nfkc": nfkc,
}
BLOCK_STEPS: dict[str, Step] = {
    "collapse_cjk_spaces": collapse_cjk_spaces,
    "collapse_spaces": collapse_spaces,
}
# Steps over a whole article's blocks, applied by index.ingest.readers.build_article.
ARTICLE_STEPS = ("drop_non_content",)  # source lines, bylines, editor lines, captions -> metadata
DEFAULT_STEPS: tuple[str, ...] = (
    "strip_bom",
    "normalize_newlines",
    "drop_control_chars",
    "collapse_cjk_spaces",
    "collapse_spaces",
    "drop_non_content",
)


def check_steps(steps: Sequence[str]) -> None:
    """Raise ValueError naming any unknown cleaning step."""
    known = {*RAW_STEPS, *BLOCK_STEPS, *ARTICLE_STEPS}
    unknown = [s for s in steps if s not in known]
    if unknown:
        raise ValueError(f"unknown cleaning step(s) {unknown}; valid steps: {sorted(known)}")


def apply_steps(text: str, steps: Sequence[str], table: dict[str, Step]) -> str:
    """Apply, in order, the steps of `steps` that belong to `table`."""
    for name in steps:
        if name in table:
            text = table[name](text)
    return text


BlockKind = Literal["heading", "paragraph"]


@dataclass(frozen=True)
class Block:
    """A rebuilt unit of layout: a heading or a body paragraph."""

    kind: BlockKind
    text: str


def char_width(ch: str) -> int:
    """Display width of a character on a printed Chinese page (ambiguous counts as wide)."""
    return 2 if unicodedata.east_asian_width(ch) in "WFA" else 1


def line_width(line: str) -> int:
    """Display width of a line."""
    return sum(char_width(c) for c in line)


def ends_sentence(line: str) -> bool:
    """True when the line ends with sentence-final punctuation (closing quotes allowed)."""
    return bool(LINE_END.search(line.rstrip()))


def join_wrapped(left: str, right: str, source_had_space: bool) -> str:
    """Join two wrapped lines; keep one space only between Latin words or numbers that had one."""
    latin = left and right and left[-1].isascii() and right[0].isascii()
    if latin and source_had_space and left[-1].isalnum() and right[0].isalnum():
        return f"{left} {right}"
    return left + right


def is_hard_wrapped(lines: Sequence[str]) -> bool:
    """Guess whether lines were wrapped at a column (most lines end mid-sentence)."""
    body = [ln.strip() for ln in lines if ln.strip()]
    if len(body) < 4:
        return False
    open_ends = sum(not ends_sentence(ln) for ln in body)
    return open_ends / len(body) >= 0.3


def _heading_like(text: str, n_lines: int, max_chars: int = 60) -> bool:
    """A short run of text with no clause punctuation, over at most three lines."""
    compact = text.strip()
    return 2 <= len(compact) <= max_chars and n_lines <= 3 and not HEADING_PUNCT.search(compact)


def _groups(lines: Sequence[str]) -> list[list[str]]:
    """Split raw lines into groups separated by blank lines (each line keeps its spaces)."""
    groups: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            groups[-1].append(line)
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if g]


class _Paragraphs:
    """Accumulates wrapped lines into paragraphs."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        self.last_raw = ""

    def add_line(self, raw: str) -> None:
        text = raw.strip()
        if self.parts:
            had_space = self.last_raw[-1:].isspace() or raw[:1].isspace()
            self.parts[-1] = join_wrapped(self.parts[-1], text, had_space)
        else:
            self.parts.append(text)
        self.last_raw = raw

    def add_block(self, kind: BlockKind, text: str) -> None:
        self.close()
        self.blocks.append(Block(kind, text))

    def close(self) -> None:
        if self.parts and self.parts[0]:
            self.blocks.append(Block("paragraph", self.parts[0]))
        self.parts, self.last_raw = [], ""

    @property
    def open_sentence(self) -> bool:
        return bool(self.parts) and not ends_sentence(self.parts[0])


def _local_widths(lines: Sequence[str], radius: int = 4) -> list[int]:
    """For each line, the widest line within `radius` lines of it: the local column width."""
    widths = [line_width(ln.strip()) for ln in lines]
    return [max(widths[max(0, i - radius) : i + radius + 1]) for i in range(len(widths))]


def _parse_wrapped(lines: Sequence[str]) -> list[Block]:
    """Rebuild paragraphs and headings from column-wrapped lines.

    Blank lines in OCR output also fall inside sentences (column breaks), so a paragraph ends
    only where a line ends a sentence and is either visibly shorter than its column or
    followed by a blank line; a short unpunctuated group after a finished sentence is a heading.
    """
    groups = _groups(lines)
    flat = [ln for g in groups for ln in g]
    widths = _local_widths(flat)
    out = _Paragraphs()
    i = 0
    for group in groups:
        joined = "".join(ln.strip() for ln in group)
        if not out.open_sentence and _heading_like(joined, len(group)):
            heading = ""
            for raw in group:
                heading = join_wrapped(heading, raw.strip(), raw[:1].isspace())
            out.add_block("heading", heading)
            i += len(group)
            continue
        for raw in group:
            out.add_line(raw)
            text = raw.strip()
            if ends_sentence(text) and line_width(text) <= widths[i] - 3:
                out.close()
            i += 1
        if not out.open_sentence:
            out.close()
    out.close()
    return out.blocks


def _parse_unwrapped(lines: Sequence[str]) -> list[Block]:
    """One paragraph per line; short unpunctuated lines are headings."""
    blocks = []
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        kind: BlockKind = "heading" if _heading_like(text, 1, max_chars=40) else "paragraph"
        blocks.append(Block(kind, text))
    return blocks


def parse_layout(text: str, steps: Sequence[str] = DEFAULT_STEPS) -> list[Block]:
    """Split article text into headings and paragraphs, repairing hard line wraps."""
    lines = text.split("\n")
    blocks = _parse_wrapped(lines) if is_hard_wrapped(lines) else _parse_unwrapped(lines)
    cleaned = (Block(b.kind, apply_steps(b.text, steps, BLOCK_STEPS)) for b in blocks)
    return [b for b in cleaned if b.text]


def clean_raw(text: str, steps: Sequence[str] = DEFAULT_STEPS) -> str:
    """Apply the file-level cleaning steps."""
    return apply_steps(text, steps, RAW_STEPS)
