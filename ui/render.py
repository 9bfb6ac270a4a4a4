"""Turn answers into safe HTML for the chat: every piece of text is escaped, no Markdown."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from index.text import SENTENCE_ENDS as _ENDS
from ui.texts import Lang, text

ABSTAIN_MESSAGE = text("zh", "abstain")
COLLAPSE_AFTER = 160  # characters; a longer passage shows an excerpt around its highlight, the rest folded


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


def citation_parts(citation: Mapping[str, Any], lang: Lang = "zh") -> list[str]:
    """Section, paragraph and 'source date' of a citation, the ones that are known."""
    parts = []
    if citation.get("section"):
        parts.append(str(citation["section"]))
    if citation.get("paragraph"):
        parts.append(text(lang, "paragraph", n=citation["paragraph"]))
    origin = " ".join(str(citation[k]) for k in ("source", "date") if citation.get(k))
    if origin:
        parts.append(origin)
    return parts


def citation_label(citation: Mapping[str, Any], lang: Lang = "zh") -> str:
    """《title》 · section · 第N段 · source date (and the URL when known), as plain text."""
    label = " · ".join([f"《{citation['article_title']}》", *citation_parts(citation, lang)])
    return f"{label} {citation['url']}" if citation.get("url") else label


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


def passage_html(passage: Mapping[str, Any], lang: Lang = "zh") -> str:
    """One cited passage: its citation and copy button, then the text (an excerpt and a fold when long)."""
    citation = passage["citation"]
    meta = " · ".join(escape(p) for p in citation_parts(citation, lang))
    value, spans = passage["text"], passage.get("highlights") or []
    copy = escape(" ".join(citation_label(citation, lang).split()))  # an attribute: no line breaks
    head = (
        f'<div class="wd-head"><span class="wd-ref">[{int(passage["rank"])}]</span> '
        f'<span class="wd-title">《{escape(str(citation["article_title"]))}》</span> '
        f'<span class="wd-meta">{meta}</span> '
        f'<span class="wd-score">{escape(text(lang, "score", score=float(passage["score"])))}</span> '
        f'<button type="button" class="wd-copy" value="{copy}" lang="{lang}" title="{copy}">'
        f"{escape(text(lang, 'copy'))}</button></div>"
    )
    if len(value) <= COLLAPSE_AFTER:
        return f'<div class="wd-passage">{head}<div class="wd-text">{highlighted(value, spans)}</div></div>'
    more = escape(text(lang, "more", n=len(value)))
    return (
        f'<div class="wd-passage">{head}<div class="wd-text wd-excerpt">{excerpt_html(value, spans)}</div>'
        f'<details class="wd-more"><summary>{more}</summary>'
        f'<div class="wd-text">{highlighted(value, spans)}</div></details></div>'
    )


def answer_html(answer: Mapping[str, Any], lang: Lang = "zh") -> str:
    """A whole reply: the answer line with its citation marker (or a plain abstention), then the passages."""
    passages = answer.get("passages") or []
    if answer.get("abstained") or not answer.get("answer"):
        line = f'<p class="wd-abstain">{escape(text(lang, "abstain"))}</p>'
    else:
        marker = _answer_marker(passages)
        line = (
            f'<p class="wd-line"><span class="wd-label">{escape(text(lang, "answer"))}</span>'
            f"<mark>{escape(answer['answer'])}</mark>{marker}</p>"
        )
    blocks = "".join(passage_html(p, lang) for p in passages)
    return f'<div class="wd-answer">{line}<div class="wd-passages">{blocks}</div></div>'


def question_html(question: str, lang: Lang = "zh") -> str:
    """The user's message, escaped."""
    return escape(question.strip()[:2000]) or escape(text(lang, "empty"))


def error_html(message: str, lang: Lang = "zh") -> str:
    """A one-line error shown in the chat instead of a traceback."""
    return f'<p class="wd-error">⚠️ {escape(text(lang, "error") + message)}</p>'


def _answer_marker(passages: Sequence[Mapping[str, Any]]) -> str:
    """Citation markers [n] for the passages that hold the answer (the highlighted ones)."""
    ranks = [int(p["rank"]) for p in passages if p.get("highlights")] or [1]
    return "".join(f'<sup class="wd-ref">[{r}]</sup>' for r in ranks)


CSS = """
.wd-answer mark { background: #fff1a8; color: inherit; padding: 0 1px; border-radius: 2px; }
.wd-line { font-size: 1.05em; margin: 0 0 .6em 0; line-height: 1.7; }
.wd-label { font-weight: 600; }
.wd-abstain { color: #8a5300; background: #fff7e6; border-radius: 4px; padding: .4em .6em; margin: 0 0 .6em; }
.wd-error { color: #b00020; }
.wd-passage { border-left: 3px solid #c9d6ea; padding: .2em .6em; margin: .6em 0; }
.wd-head { font-size: .9em; color: #334; line-height: 1.6; }
.wd-more summary { cursor: pointer; font-size: .85em; color: #1a56b0; margin-top: .2em; }
.wd-passage:has(.wd-more[open]) > .wd-excerpt { display: none; }
.wd-ref { color: #1a56b0; font-weight: 600; }
.wd-title { font-weight: 600; }
.wd-meta, .wd-score { color: #667; font-size: .92em; }
.wd-copy { font-size: .8em; color: #1a56b0; background: transparent; border: 1px solid #c9d6ea;
           border-radius: 4px; padding: 0 .45em; margin-left: .3em; cursor: pointer; }
.wd-copy:hover { background: #eef3fb; }
.wd-text { margin-top: .3em; line-height: 1.75; }
"""

# The chat page's script, inlined into the page head (no file to fetch, so it also runs inside
# Gradio's web component):
# - copy-citation buttons: one delegated listener; falls back to a hidden textarea when the
#   Clipboard API is unavailable (plain http on another host, or a frame without clipboard-write);
# - each new reply is scrolled into view from its answer line (Gradio would show its last passage).
CHAT_JS = """
<script>
(() => {
  if (window.__wendaChat) return;
  window.__wendaChat = true;
  const fallback = (value) => {
    const area = document.createElement("textarea");
    area.value = value; area.setAttribute("readonly", "");
    area.style.position = "fixed"; area.style.opacity = "0";
    document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
  };
  document.addEventListener("click", (event) => {
    const button = event.composedPath().find((el) => el.classList && el.classList.contains("wd-copy"));
    if (!button) return;
    event.preventDefault(); event.stopPropagation();
    const value = button.value || "";  // Gradio's sanitizer keeps standard attributes only: no data-*
    const done = () => {
      const label = button.textContent;
      button.textContent = button.lang === "en" ? "Copied" : "已复制";
      button.setAttribute("data-copied", value);
      setTimeout(() => { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, () => { fallback(value); done(); });
    } else { fallback(value); done(); }
  }, true);
  const scroller = (el) => {
    for (let box = el.parentElement; box; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowY;
      if ((overflow === "auto" || overflow === "scroll") && box.scrollHeight > box.clientHeight) return box;
    }
    return null;
  };
  let shown = 0;
  const reveal = () => {
    const replies = document.querySelectorAll("#wd-chatbot .wd-answer, #wd-chatbot .wd-error");
    if (replies.length > shown) {
      const last = replies[replies.length - 1];
      const box = scroller(last);
      if (box) {
        const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
        box.scrollTo({ top: Math.max(0, top - 96), behavior: "smooth" });  // keep the question in sight
      }
    }
    shown = replies.length;
  };
  new MutationObserver(reveal).observe(document.documentElement, { childList: true, subtree: true });
})();
</script>
"""
