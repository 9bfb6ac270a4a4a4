"""Turn answers into safe HTML for the chat: every piece of text is escaped, no Markdown."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

ABSTAIN_MESSAGE = "抱歉，这些文章里没有找到能回答这个问题的内容。下面是最接近的段落，仅供参考。"
COLLAPSE_AFTER = 180  # characters; longer passages start folded


def escape(text: str) -> str:
    """Escape HTML and the characters Markdown would act on, so text always shows as text."""
    escaped = html.escape(text, quote=True)
    for char, entity in (("[", "&#91;"), ("]", "&#93;"), ("*", "&#42;"), ("_", "&#95;"), ("`", "&#96;"), ("\\", "&#92;")):
        escaped = escaped.replace(char, entity)
    return escaped.replace("\n", "<br>")


def highlighted(text: str, spans: Sequence[Sequence[int]]) -> str:
    """Escaped text with each span wrapped in <mark>."""
    out, pos = [], 0
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        start, end = max(start, pos), min(end, len(text))
        if end <= start:
            continue
        out += [escape(text[pos:start]), "<mark>", escape(text[start:end]), "</mark>"]
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def citation_label(citation: Mapping[str, Any]) -> str:
    """《title》 · section · 第N段 · source date, as plain text."""
    parts = [f"《{citation['article_title']}》"]
    if citation.get("section"):
        parts.append(citation["section"])
    if citation.get("paragraph"):
        parts.append(f"第{citation['paragraph']}段")
    origin = " ".join(str(citation[k]) for k in ("source", "date") if citation.get(k))
    if origin:
        parts.append(origin)
    return " · ".join(parts)


def passage_html(passage: Mapping[str, Any]) -> str:
    """One cited passage as a collapsible block."""
    label = escape(citation_label(passage["citation"]))
    body = highlighted(passage["text"], passage.get("highlights") or [])
    # the passages holding the answer start open; other long ones start folded
    is_open = " open" if passage.get("highlights") or len(passage["text"]) <= COLLAPSE_AFTER else ""
    return (
        f'<details class="wd-passage"{is_open}><summary><span class="wd-ref">[{int(passage["rank"])}]</span> '
        f'<span class="wd-cite">{label}</span> <span class="wd-score">相关度 {float(passage["score"]):.2f}</span>'
        f'</summary><div class="wd-text">{body}</div></details>'
    )


def answer_html(answer: Mapping[str, Any]) -> str:
    """A whole reply: the answer line with its citation marker, then the passages."""
    passages = answer.get("passages") or []
    if answer.get("abstained") or not answer.get("answer"):
        line = f'<p class="wd-abstain">{escape(ABSTAIN_MESSAGE)}</p>'
    else:
        marker = _answer_marker(passages)
        line = f'<p class="wd-line"><mark>{escape(answer["answer"])}</mark>{marker}</p>'
    blocks = "".join(passage_html(p) for p in passages)
    return f'<div class="wd-answer">{line}<div class="wd-passages">{blocks}</div></div>'


def error_html(message: str) -> str:
    """A one-line error shown in the chat instead of a traceback."""
    return f'<p class="wd-error">⚠️ {escape(message)}</p>'


def _answer_marker(passages: Sequence[Mapping[str, Any]]) -> str:
    """Citation markers [n] for the passages that hold the answer (highlighted ones)."""
    ranks = [int(p["rank"]) for p in passages if p.get("highlights")][:1] or [1]
    return "".join(f'<sup class="wd-ref">[{r}]</sup>' for r in ranks)


CSS = """
.wd-answer mark { background: #fff1a8; padding: 0 1px; border-radius: 2px; }
.wd-line { font-size: 1.05em; margin: 0 0 .6em 0; }
.wd-abstain { color: #8a5300; margin: 0 0 .6em 0; }
.wd-error { color: #b00020; }
.wd-passage { border-left: 3px solid #c9d6ea; padding: .2em .6em; margin: .4em 0; }
.wd-passage summary { cursor: pointer; font-size: .9em; color: #334; }
.wd-ref { color: #1a56b0; font-weight: 600; }
.wd-score { color: #778; font-size: .85em; }
.wd-text { margin-top: .3em; line-height: 1.7; }
"""
