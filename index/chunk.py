"""Cut articles into passages with langchain-text-splitters, keeping exact offsets.

Each section is chunked on its own, so a passage never mixes two sections; separators are
Chinese sentence ends first, so a passage cuts a sentence only when the sentence is longer
than a passage. langchain cuts the section into pieces without overlap; each piece then
reaches back over the last whole sentence(s) before it (`overlap_sentences`), so the
overlap is counted in sentences rather than characters and never starts mid-sentence.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache

from langchain_text_splitters import RecursiveCharacterTextSplitter

from index.documents import Article, Chunk, content_hash
from index.settings import ChunkSettings
from index.text import simplified


def make_splitter(settings: ChunkSettings) -> RecursiveCharacterTextSplitter:
    """Build the langchain splitter for these settings (no overlap: see `add_overlap`)."""
    return RecursiveCharacterTextSplitter(
        separators=list(settings.separators),
        is_separator_regex=True,
        keep_separator=True,
        chunk_size=settings.chunk_size,
        chunk_overlap=0,
        strip_whitespace=True,
    )


def chunk_article(article: Article, settings: ChunkSettings) -> list[Chunk]:
    """Cut one article into chunks whose `text == article.text[start:end]`."""
    splitter = make_splitter(settings)
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in article.sections:
        body_start = _body_start(article, section.start, section.end)
        if body_start is None:
            continue
        spans = locate(article.text, body_start, section.end, splitter.split_text)
        spans = add_overlap(article.text, body_start, spans, settings)
        for start, end in spans:
            chunk = _make_chunk(article, start, end, section.heading, seen)
            chunks.append(chunk)
    return chunks


def locate(text: str, start: int, end: int, split) -> list[tuple[int, int]]:
    """Split `text[start:end]` and find each piece's exact span in `text`.

    langchain returns strings, and a string that repeats in the section could be found at
    the wrong place; so the splitter runs over a masked copy in which every letter and digit
    is replaced by a character unique to its position (punctuation and spaces, which the
    separators match, stay), and each piece is searched for after the end of the previous
    one (a piece of punctuation only is the one thing the mask cannot make unique).
    """
    window = text[start:end]
    masked = mask_letters(window)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in split(masked):
        found = masked.find(piece, cursor)
        if found < 0:  # the splitter altered the text: a bug to surface, not to hide
            raise AssertionError(f"chunk not found in its section: {piece[:40]!r}")
        spans.append((start + found, start + found + len(piece)))
        cursor = found + len(piece)  # pieces do not overlap (chunk_overlap=0 in the splitter)
    return spans


def add_overlap(
    text: str, section_start: int, spans: Sequence[tuple[int, int]], settings: ChunkSettings
) -> list[tuple[int, int]]:
    """Move the start of every span but the first back over the sentence(s) just before it.

    Up to `settings.overlap_sentences` whole sentences are taken, as many as fit in
    `settings.chunk_overlap` characters; the ends never move, so the text outside the
    overlap is covered exactly once.
    """
    wanted = settings.overlap_sentences
    if wanted == 0 or len(spans) < 2:
        return list(spans)
    starts = sentence_starts(text, section_start, spans[-1][0], settings.sentence_boundary)
    out = [spans[0]]
    for start, end in spans[1:]:
        before = starts[max(0, bisect_left(starts, start) - wanted) : bisect_left(starts, start)]
        fitting = [s for s in before if start - s <= settings.chunk_overlap]
        out.append((fitting[0] if fitting else start, end))
    return out


def sentence_starts(text: str, start: int, end: int, boundary: str) -> list[int]:
    """Offsets in [start, end) where a sentence begins (its first non-space character)."""
    found = [start + m.end() for m in _compiled(boundary).finditer(text[start:end])]
    out: list[int] = []
    for offset in [start, *found]:
        while offset < end and text[offset].isspace():
            offset += 1
        if offset < end and (not out or offset > out[-1]):
            out.append(offset)
    return out


@lru_cache(maxsize=8)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_PRIVATE_USE = [(0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)]  # supplementary private-use planes


def mask_letters(text: str) -> str:
    """Replace letters, digits and marks by position-unique private-use characters."""
    capacity = sum(hi - lo + 1 for lo, hi in _PRIVATE_USE)
    out = []
    for i, char in enumerate(text):
        category = unicodedata.category(char)
        if category[0] in "LNM" or category == "Co":
            j = i % capacity
            lo, hi = _PRIVATE_USE[0]
            out.append(chr(lo + j) if j <= hi - lo else chr(_PRIVATE_USE[1][0] + j - (hi - lo + 1)))
        else:
            out.append(char)
    return "".join(out)


def embed_text(chunk: Chunk, article: Article, settings: ChunkSettings) -> str:
    """The text given to the embedder: the passage, with its title and section as context.

    A title made up from the lead sentence adds nothing the passage lacks, so it is left out.
    Traditional characters are given as simplified ones (`index.text.simplified`), as queries are.
    """
    context: list[str] = []
    if settings.context == "title+section" and article.title_from != "lead":
        context.append(article.title)
    if settings.context in ("section", "title+section") and chunk.section:
        context.append(chunk.section)
    return simplified("\n".join([*context, chunk.text]))


def _body_start(article: Article, start: int, end: int) -> int | None:
    """The offset of the first paragraph in [start, end), skipping the heading line."""
    for p_start, _ in article.paragraphs:
        if start <= p_start < end:
            return p_start
    return None


def _make_chunk(article: Article, start: int, end: int, section: str | None, seen: set[str]) -> Chunk:
    """Build a chunk with a content-hash id (made unique within the article)."""
    text = article.text[start:end]
    chunk_id = content_hash(article.id, text)
    n = 1
    while chunk_id in seen:  # the same passage twice in one article
        n += 1
        chunk_id = content_hash(article.id, text, str(n))
    seen.add(chunk_id)
    return Chunk(
        id=chunk_id,
        article_id=article.id,
        text=text,
        start=start,
        end=end,
        section=section,
        paragraph=article.paragraph_number(start),
        paragraph_end=article.paragraph_number(end - 1),
    )
