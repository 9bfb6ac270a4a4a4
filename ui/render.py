"""Turn answers into safe HTML for the chat: every piece of text is escaped, no Markdown.

A reply shows the answer line, then the passages that support it (numbered [n], the answering
sentence highlighted), then the other retrieved passages folded under "更多相关段落" without
highlights. Passages of one article are grouped under the article's title, source, date,
relevance and link; groups go by relevance, so the relevance shown never rises down the list. A
passage whose text other articles print too (a reprinted agency story) names them in a line of
its own ("亦见于：").
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index.text import SENTENCE_ENDS as _ENDS
from ui.texts import Lang, browser_texts, text

STATIC_DIR = Path(__file__).resolve().parent / "static"

ABSTAIN_MESSAGE = text("zh", "abstain")
COLLAPSE_AFTER = 160  # characters; a longer passage shows an excerpt around its highlight, the rest folded
PENDING_CLASS = "wd-pending"


def escape(value: str) -> str:
    """Escape HTML and the characters Markdown would act on, so text always shows as text."""
    escaped = html.escape(value, quote=True)
    for char, entity in (
        ("[", "&#91;"),
        ("]", "&#93;"),
        ("*", "&#42;"),
        ("_", "&#95;"),
        ("`", "&#96;"),
        ("\\", "&#92;"),
    ):
        escaped = escaped.replace(char, entity)
    return escaped.replace("\n", "<br>")


def highlighted(value: str, spans: Sequence[Sequence[int]]) -> str:
    """Escaped text with each span wrapped in <mark>."""
    out, pos = [], 0
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        start, end = max(start, pos), min(end, len(value))
        if end <= start:
            continue
        out += [escape(value[pos:start]), "<mark>", escape(value[start:end]), "</mark>"]
        pos = end
    out.append(escape(value[pos:]))
    return "".join(out)


def safe_url(url: object) -> str | None:
    """`url` when it is an absolute http(s) address with a host, else None (no javascript:, data:…)."""
    if not isinstance(url, str) or not url.strip() or any(c in url for c in "\r\n\t"):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.hostname else None


def citation_parts(citation: Mapping[str, Any], lang: Lang = "zh") -> list[str]:
    """Section, paragraph and 'source date' of a citation, the ones that are known."""
    return [*_place_parts(citation, lang), *_origin_parts(citation)]


def _place_parts(citation: Mapping[str, Any], lang: Lang) -> list[str]:
    parts = []
    if citation.get("section"):
        parts.append(str(citation["section"]))
    if citation.get("paragraph"):
        parts.append(text(lang, "paragraph", n=citation["paragraph"]))
    return parts


def _origin_parts(citation: Mapping[str, Any]) -> list[str]:
    origin = " ".join(str(citation[k]) for k in ("source", "date") if citation.get(k))
    return [origin] if origin else []


def citation_label(citation: Mapping[str, Any], lang: Lang = "zh") -> str:
    """《title》 · section · 第N段 · source date (and the URL when it is safe), as plain text."""
    label = " · ".join([f"《{citation['article_title']}》", *citation_parts(citation, lang)])
    url = safe_url(citation.get("url"))
    return f"{label} {url}" if url else label


def _compact(value: str) -> str:
    return "".join(value.split())


def supports(passage: Mapping[str, Any], answer: str | None) -> bool:
    """Whether a passage supports the answer: it is highlighted and a highlight holds an answer sentence.

    Other passages may carry a highlight of their own best sentence; that does not make them
    support this answer.
    """
    if "supports" in passage:  # the bot says which passages hold the answer (qa.cite.Passage)
        return bool(passage["supports"]) and bool(answer)
    if not answer or not passage.get("highlights"):
        return False
    wanted = _compact(answer)
    value = passage["text"]
    for start, end in passage["highlights"]:
        marked = _compact(value[int(start) : int(end)])
        if marked and (marked in wanted or wanted in marked):
            return True
    return False


def split_passages(answer: Mapping[str, Any]) -> tuple[list[Mapping], list[Mapping]]:
    """(passages that support the answer, the others), each in the bot's order."""
    passages = list(answer.get("passages") or [])
    line = answer.get("answer")
    if answer.get("abstained") or not line:
        return [], passages
    chosen = [p for p in passages if supports(p, line)]
    if not chosen:  # the answer spans sentences no single highlight holds: the passages that contain it
        chosen = [p for p in passages if _compact(line) in _compact(p["text"])]
    return chosen, [p for p in passages if p not in chosen]


def group_by_article(passages: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Passages grouped per article: groups by their best relevance, passages in reading order."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for passage in passages:
        groups.setdefault(str(passage["citation"]["article_id"]), []).append(passage)
    ordered = sorted(groups.values(), key=lambda g: -max(float(p["score"]) for p in g))
    return [sorted(g, key=lambda p: int(p["citation"].get("start") or 0)) for g in ordered]


def excerpt_window(value: str, spans: Sequence[Sequence[int]], size: int = COLLAPSE_AFTER) -> tuple[int, int]:
    """The part of a long passage shown while the rest is folded: the first highlight in context."""
    if spans:
        first_start, first_end = min((int(s), int(e)) for s, e in spans)
        room = max(0, size - (first_end - first_start)) // 2
        start, end = max(0, first_start - room), min(len(value), first_end + room)
    else:
        first_start = first_end = start = 0
        end = min(len(value), size)
    # whole sentences of context: begin after the first sentence end in the window, stop at the last
    if start > 0:
        cuts = [i for i in (value.find(mark, start, first_start) for mark in _ENDS) if i >= 0]
        start = min(cuts) + 1 if cuts else start
    if end < len(value):
        stops = [value.rfind(mark, first_end, end) for mark in _ENDS]
        end = max(stops) + 1 if max(stops) >= 0 else end
    return start, end


def excerpt_html(value: str, spans: Sequence[Sequence[int]], size: int = COLLAPSE_AFTER) -> str:
    """The excerpt of excerpt_window, escaped and highlighted, with … where text was left out."""
    start, end = excerpt_window(value, spans, size)
    inside = [
        (max(int(s), start) - start, min(int(e), end) - start)
        for s, e in spans
        if int(e) > start and int(s) < end
    ]
    part = value[start:end]
    lead = "…" if start > 0 and not part.startswith("…") else ""
    tail = "…" if end < len(value) and not part.endswith("…") else ""
    return lead + highlighted(part, inside) + tail


def passage_html(passage: Mapping[str, Any], lang: Lang = "zh", number: int | None = None) -> str:
    """One passage: its number (when it supports the answer), place in the article, buttons, then the
    text (an excerpt and a fold when long). Only numbered passages show their highlight."""
    citation = passage["citation"]
    value = passage["text"]
    spans = (passage.get("highlights") or []) if number is not None else []
    copy = escape(" ".join(citation_label(citation, lang).split()))  # an attribute: no line breaks
    where = {
        "article_id": str(citation["article_id"]),
        "start": int(citation["start"]),
        "end": int(citation["end"]),
    }
    ref = f'<span class="wd-ref">[{number}]</span> ' if number is not None else ""
    place = " · ".join(escape(p) for p in _place_parts(citation, lang))
    head = (
        f'<div class="wd-head">{ref}<span class="wd-meta">{place}</span>'
        f'<span class="wd-tools"><button type="button" class="wd-copy" value="{copy}" lang="{lang}" '
        f'title="{copy}">{escape(text(lang, "copy"))}</button>'
        f'<button type="button" class="wd-section" value="{escape(json.dumps(where, ensure_ascii=False))}" '
        f'lang="{lang}">{escape(text(lang, "section"))}</button></span></div>'
    )
    kind = "wd-passage wd-support" if number is not None else "wd-passage"
    head += also_in_html(passage, lang)
    if len(value) <= COLLAPSE_AFTER:
        return f'<div class="{kind}">{head}<div class="wd-text">{highlighted(value, spans)}</div></div>'
    more = escape(text(lang, "more", n=len(value)))
    return (
        f'<div class="{kind}">{head}<div class="wd-text wd-excerpt">{excerpt_html(value, spans)}</div>'
        f'<details class="wd-more"><summary>{more}</summary>'
        f'<div class="wd-text">{highlighted(value, spans)}</div></details></div>'
    )


def also_in_html(passage: Mapping[str, Any], lang: Lang = "zh") -> str:
    """One line naming the other articles printing a passage's text (qa.cite.Passage.also_in):
    source date《title》 each, linked to the article when its URL is safe, then how many more
    there are; nothing when there are none."""
    printings = passage.get("also_in") or []
    if not printings:
        return ""
    items = escape(text(lang, "also_sep")).join(_printing_html(c, lang) for c in printings)
    total = int(passage.get("also_in_total") or 0)
    more = total - len(printings)
    tail = escape(text(lang, "also_more", total=total, more=more)) if more > 0 else ""
    return f'<div class="wd-also">{escape(text(lang, "also_in"))}{items}{tail}</div>'


def _printing_html(citation: Mapping[str, Any], lang: Lang) -> str:
    label = escape(" ".join(_origin_parts(citation)) + f"《{citation['article_title']}》")
    url = safe_url(citation.get("url"))
    return _new_tab_link(url, label, lang) if url else label


def _new_tab_link(url: str, label: str, lang: Lang, kind: str = "") -> str:
    """A link (escaped `label` HTML) opening `url`, a safe_url, in a new tab, saying so to screen readers."""
    attribute = f' class="{kind}"' if kind else ""
    return (
        f'<a{attribute} href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
        f'{label}<span class="wd-sr">{escape(text(lang, "new_tab"))}</span></a>'
    )


def group_html(group: Sequence[Mapping[str, Any]], lang: Lang, numbers: Mapping[int, int]) -> str:
    """One article's passages under its title, source and date, best relevance and link to the original."""
    citation = group[0]["citation"]
    origin = " · ".join(escape(p) for p in _origin_parts(citation))
    best = max(float(p["score"]) for p in group)
    url = safe_url(citation.get("url"))
    link = _new_tab_link(url, escape(text(lang, "original")), lang, "wd-link") if url else ""
    head = (
        f'<div class="wd-article"><span class="wd-title">《{escape(str(citation["article_title"]))}》</span>'
        f'<span class="wd-origin">{origin}</span>'
        f'<span class="wd-score">{escape(text(lang, "score", score=best))}</span>{link}</div>'
    )
    body = "".join(passage_html(p, lang, numbers.get(id(p))) for p in group)
    return f'<div class="wd-group">{head}{body}</div>'


def answer_html(answer: Mapping[str, Any], lang: Lang = "zh") -> str:
    """A whole reply: the answer line and its supporting passages, then the other passages folded;
    or, on abstention, a plain message with the closest passages folded and marked as not answering."""
    if answer.get("abstained") or not answer.get("answer"):
        closest = _others_html(answer.get("passages") or [], lang, "closest", "wd-others wd-closest")
        return (
            f'<div class="wd-answer"><p class="wd-abstain">{escape(text(lang, "abstain"))}</p>{closest}</div>'
        )
    chosen, others = split_passages(answer)
    groups = group_by_article(chosen)
    numbers = {id(p): n for n, p in enumerate((p for g in groups for p in g), start=1)}
    marker = "".join(f'<sup class="wd-ref">[{n}]</sup>' for n in numbers.values())
    support = "".join(group_html(g, lang, numbers) for g in groups)
    return (
        f'<div class="wd-answer">{_line_html(answer["answer"], marker, lang)}'
        f'<div class="wd-passages">{support}</div>{_others_html(others, lang, "others")}</div>'
    )


def _line_html(answer: str, marker: str, lang: Lang) -> str:
    return (
        f'<p class="wd-line"><span class="wd-label">{escape(text(lang, "answer"))}</span>'
        f"<mark>{escape(answer)}</mark>{marker}</p>"
    )


def _others_html(passages: Sequence[Mapping[str, Any]], lang: Lang, key: str, kind: str = "wd-others") -> str:
    """Passages that do not support an answer, folded, without highlights or numbers."""
    if not passages:
        return ""
    summary = text(lang, key, n=len(passages))
    groups = "".join(group_html(g, lang, {}) for g in group_by_article(passages))
    return f'<details class="{kind}"><summary>{escape(summary)}</summary>{groups}</details>'


def question_html(question: str) -> str:
    """The user's message, escaped."""
    return escape(question.strip())


def pending_html(lang: Lang = "zh") -> str:
    """The reply's place while the question is answered."""
    return f'<p class="{PENDING_CLASS}" role="status">{escape(text(lang, "pending"))}</p>'


def error_html(message: str, lang: Lang = "zh") -> str:
    """A one-line error shown in the chat instead of a traceback."""
    return f'<p class="wd-error" role="alert">{escape(text(lang, "error") + message)}</p>'


def _script_json(value: Any) -> str:
    """JSON safe inside an inline <script> (no "</script>" can end it early)."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def boot_script(theme: str = "auto") -> str:
    """The script that gives Gradio the page's language and theme before it starts (static/boot.js)."""
    source = (STATIC_DIR / "boot.js").read_text(encoding="utf-8")
    return source.replace("__WENDA_DEFAULTS__", _script_json({"theme": theme}), 1)


def chat_head(limit: int = 1000) -> str:
    """The page head's inline script (static/chat.js) with the interface texts and the length limit."""
    source = (STATIC_DIR / "chat.js").read_text(encoding="utf-8")
    config = _script_json({"texts": browser_texts(), "limit": int(limit)})
    return "<script>" + source.replace("__WENDA_CONFIG__", config, 1) + "</script>"


CSS = (STATIC_DIR / "chat.css").read_text(encoding="utf-8")
