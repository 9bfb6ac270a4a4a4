"""Lines that are not article content: source lines, bylines, editor lines and photo captions.

They are kept as article metadata and left out of the text that is chunked, so a passage or
an answer line is never "（原载6月30日《人民日报》）" or "责任编辑：王某". The patterns are
deliberately narrow (short lines of a known shape): a real sentence that merely mentions a
reporter or a photo stays content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from index.ingest.layout import Block

LineKind = Literal["source", "byline", "editor", "caption"]

MAX_LINE = 80  # characters; longer lines are content whatever they start with
_NAME = r"[\u4e00-\u9fff·]{2,6}"
_NAMES = rf"{_NAME}(?:[\s、，,和及]+{_NAME})*"
_AGENCY = r"(?:本报|新华社|中新社|人民网|央视网|新华网|中国新闻社|[\u4e00-\u9fff]{2,8}(?:日报|晚报|时报|报社|电视台|通讯社))"
_OPEN = r"^\s*[（(【\[]?\s*"
_CLOSE = r"\s*[）)】\]]?\s*$"

_PATTERNS: tuple[tuple[LineKind, re.Pattern[str]], ...] = (
    (
        "source",
        re.compile(_OPEN + r"原载[^\n，。；]{0,30}(?:《[^》]+》|报|网|刊|杂志)[^\n，。；]{0,20}" + _CLOSE),
    ),
    (
        "source",
        re.compile(_OPEN + r"(?:来源|稿源|出处|原标题|本文来源|转载自|文章来源)\s*[:：][^\n]*" + _CLOSE),
    ),
    (
        "editor",
        re.compile(
            _OPEN
            + r"(?:责任编辑|责编|编辑|校对|审核|审校|监制|终审|二审|一审|值班编辑)\s*[:：|｜][^\n]*"
            + _CLOSE
        ),
    ),
    (
        "byline",
        re.compile(
            _OPEN
            + rf"(?:{_AGENCY})?\s*(?:特约|实习|融媒体)?记者\s*[:：]?\s*{_NAMES}(?:\s*[\u4e00-\u9fff]{{0,6}}报道)?"
            + _CLOSE
        ),
    ),
    (
        "byline",
        re.compile(
            _OPEN + rf"(?:作者|撰文|文|文字|采写|撰稿|通讯员)\s*[:：|｜/／]\s*{_NAMES}[^\n]{{0,20}}" + _CLOSE
        ),
    ),
    ("byline", re.compile(_OPEN + rf"(?:{_AGENCY})[^\n]{{0,12}}电\s*[（(]\s*记者\s*{_NAMES}\s*[）)]\s*$")),
    (
        "caption",
        re.compile(_OPEN + r"(?:图为|图片为|上图|下图|左图|右图|图[①-⑩\d]|题图|配图)[^\n]*" + _CLOSE),
    ),
    ("caption", re.compile(rf"^[^\n]*[（(]\s*(?:{_AGENCY})?\s*(?:记者|通讯员)?\s*{_NAMES}\s*摄\s*[）)]\s*$")),
    (
        "caption",
        re.compile(
            r"^[^\n]*[（(]\s*(?:资料图片|资料图|新华社发|视觉中国|图片来源[^\n]{0,20}|[\u4e00-\u9fff]{2,8}供图)\s*[）)]\s*$"
        ),
    ),
    ("caption", re.compile(rf"^\s*(?:摄影|图片|图|制图|设计)\s*[:：|｜/／]\s*{_NAMES}" + _CLOSE)),
)


def non_content_kind(line: str) -> LineKind | None:
    """What kind of non-content line `line` is (source, byline, editor, caption), or None for content."""
    text = line.strip()
    if not text or len(text) > MAX_LINE:
        return None
    for kind, pattern in _PATTERNS:
        if pattern.match(text):
            return kind
    return None


def content_blocks(blocks: Sequence[Block]) -> tuple[list[Block], list[dict[str, str]]]:
    """Split the blocks that are not content off an article's blocks (a short byline is often
    taken for a heading by the layout repair, so headings are checked too).

    Returns the content blocks, and the dropped lines as `{"kind", "text"}` records for the
    article's metadata.
    """
    kept: list[Block] = []
    dropped: list[dict[str, str]] = []
    for block in blocks:
        kind = non_content_kind(block.text)
        if kind is None:
            kept.append(block)
        else:
            dropped.append({"kind": kind, "text": block.text.strip()})
    return kept, dropped


_BYLINE_NAMES = re.compile(
    rf"记者\s*[:：]?\s*(?P<names>{_NAMES})|(?:作者|撰文|文|采写|撰稿)\s*[:：|｜/／]\s*(?P<by>{_NAMES})"
)


def byline_author(lines: Sequence[dict[str, str]]) -> str | None:
    """The author named by the first byline among dropped lines, if any ("张三 李四")."""
    for line in lines:
        if line["kind"] == "byline" and (found := _BYLINE_NAMES.search(line["text"])):
            names = found.group("names") or found.group("by")
            return " ".join(re.split(r"[\s、，,和及]+", names.strip()))
    return None
