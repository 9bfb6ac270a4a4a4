"""Questions about an article rather than its content: where it appeared, who wrote it, when.

Source lines and bylines are metadata, never passages (index.ingest.noncontent), so
"文章原载于哪份报纸？" is answered from the cited article's metadata, as a line that says so,
or not at all when the article does not record it.
"""

from __future__ import annotations

import re
from typing import Literal

from index.documents import Article

Field = Literal["source", "author", "date"]

_ASKS: tuple[tuple[Field, re.Pattern[str]], ...] = (
    (
        "author",
        re.compile(
            # who wrote it, not what its author thinks: 作者认为…, "According to the author, …"
            # ask about the content (they used to be answered from the byline, or abstain)
            r"作者(?:的)?(?:是谁|是哪|为何人|叫什么|名字|姓名|署名)|作者是\s*[？?]?\s*$|谁(?:写|撰写|执笔)的?"
            r"|撰稿人|记者是谁|哪(?:位|个)(?:记者|作者)"
            r"|\bwho (?:wrote|authored)\b|\bwho (?:is|was) the (?:author|writer|reporter)\b"
            r"|\b(?:author|writer|reporter)'s name\b|\bname of the (?:author|writer|reporter)\b"
            r"|\bwritten by whom\b|\bwho (?:was|is) (?:it|this|the article) (?:written|reported) by\b",
            re.IGNORECASE,
        ),
    ),
    (
        "date",
        re.compile(
            r"哪天(?:发表|刊登|刊发)|(?:发表|刊登|刊发)(?:时间|日期|于哪天)|\bwhen was (?:it|this|the article) published\b",
            re.IGNORECASE,
        ),
    ),
    (
        "source",
        re.compile(
            r"原载|刊载|刊登|刊发|登载|发表在|发表于|转载自|出处|(?:文章|本文|报道|这篇)(?:的)?来源|哪[份家个]报|什么报纸|哪[家个]媒体|什么媒体"
            r"|\bwhich (?:newspaper|paper|outlet)\b|\bpublished (?:in|by)\b|\bsource of (?:the|this) article\b",
            re.IGNORECASE,
        ),
    ),
)


# The author of something else than the article (《红楼梦》的作者, "the author of the novel …")
# is a question about the content, which may name that author
_OF_WHAT = re.compile(r"([^\s，,。？?！!：:；;]+?)(?:的?作者|是?由?谁(?:写|撰写|执笔))")
_WHOSE_EN = re.compile(r"\b(?:author|writer) of (.+)|\bwho (?:wrote|authored) (.+)", re.IGNORECASE)
_THE_ARTICLE = re.compile(r"文章|本文|这篇|该文|此文|报道|稿件|原文")
_THE_ARTICLE_EN = re.compile(r"(?:this|the|that) (?:article|story|report|piece|text)\b", re.IGNORECASE)


def _of_the_article(question: str) -> bool:
    """Whether an author question asks for the article's author, not for a work's it names."""
    if (whose := _OF_WHAT.search(question)) and not _THE_ARTICLE.search(whose.group(1)):
        return False
    if english := _WHOSE_EN.search(question):
        return bool(_THE_ARTICLE_EN.match((english.group(1) or english.group(2)).strip()))
    return True


def asked_field(question: str) -> Field | None:
    """The metadata field a question asks about, or None for a question about the content."""
    for field, pattern in _ASKS:
        if pattern.search(question):
            if field == "author" and not _of_the_article(question):
                return None
            return field
    return None


def provenance_line(article: Article, field: Field) -> str | None:
    """A sentence stating the field from the article's metadata, or None when it is not recorded."""
    if field == "source" and article.source:
        return f"本文原载{article.date or ''}《{article.source}》。"
    if field == "author" and article.author:
        return f"本文作者：{article.author}。"
    if field == "date" and article.date:
        return f"本文发表于{article.date}" + (f"《{article.source}》。" if article.source else "。")
    return None
