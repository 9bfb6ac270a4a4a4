"""Chunking keeps exact offsets, stays inside sections and never cuts a sentence that fits."""

from __future__ import annotations

import itertools
import json
import re
from bisect import bisect_right

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunk import chunk_article, embed_text, sentence_starts
from index.documents import Article, Section
from index.ingest import corpus_files, read_corpus
from index.ingest.layout import parse_layout
from index.ingest.readers import build_article
from index.settings import ChunkSettings

SENTENCE_END = re.compile(r"[。！？]")


def test_offset_identity_and_sections_on_sample(sample_corpus):
    articles, _ = read_corpus(corpus_files(sample_corpus), root=sample_corpus)
    settings = ChunkSettings()
    for article in articles:
        chunks = chunk_article(article, settings)
        assert chunks
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= settings.chunk_size + settings.chunk_overlap
            section = article.section_at(chunk.start)
            assert section is not None and chunk.end <= section.end and chunk.section == section.heading
        assert len({c.id for c in chunks}) == len(chunks)


def test_offset_identity_on_cmrc_trial(cmrc_dir):
    settings = ChunkSettings()
    with (cmrc_dir / "passages.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    total = 0
    for row in rows:
        article = build_article(row["id"], parse_layout(row["text"]), {"title": row["title"]}, path=None)
        for chunk in chunk_article(article, settings):
            assert article.text[chunk.start : chunk.end] == chunk.text
            total += 1
    assert total >= len(rows)


def test_chunks_end_at_sentence_boundaries_when_sentences_fit(sample_corpus):
    articles, _ = read_corpus(corpus_files(sample_corpus), root=sample_corpus)
    for article in articles:
        for chunk in chunk_article(article, ChunkSettings()):
            assert re.search(r"[。！？…”）)]$", chunk.text), chunk.text[-20:]


def test_chunk_ids_are_content_hashes_stable_across_runs(sample_corpus):
    first = [
        c.id for a in read_corpus(corpus_files(sample_corpus))[0] for c in chunk_article(a, ChunkSettings())
    ]
    again = [
        c.id for a in read_corpus(corpus_files(sample_corpus))[0] for c in chunk_article(a, ChunkSettings())
    ]
    assert first == again


def test_each_chunk_repeats_the_last_sentence_of_the_previous_one(sample_corpus):
    articles, _ = read_corpus(corpus_files(sample_corpus), root=sample_corpus)
    settings = ChunkSettings()
    overlapped = 0
    for article in articles:
        chunks = chunk_article(article, settings)
        for before, chunk in itertools.pairwise(chunks):
            if chunk.section != before.section or chunk.start >= before.end:
                continue
            overlap = article.text[chunk.start : before.end]
            overlapped += 1
            assert len(overlap) <= settings.chunk_overlap
            # the overlap is the whole last sentence of the previous chunk
            assert before.text.endswith(overlap)
            assert article.text[chunk.start - 1] in "。！？…”’」』）)\n", article.text[
                chunk.start - 5 : chunk.start + 5
            ]
            assert len(SENTENCE_END.findall(overlap)) <= settings.overlap_sentences
    assert overlapped >= 10


def test_overlap_sentences_zero_turns_overlap_off_and_two_repeats_more(sample_corpus):
    articles, _ = read_corpus(corpus_files(sample_corpus), root=sample_corpus)
    article = articles[0]
    none = chunk_article(article, ChunkSettings(overlap_sentences=0))
    assert all(a.end <= b.start for a, b in itertools.pairwise(none))
    one = chunk_article(article, ChunkSettings(overlap_sentences=1, chunk_overlap=200))
    two = chunk_article(article, ChunkSettings(overlap_sentences=2, chunk_overlap=200))
    # the same pieces, each reaching further back
    assert [c.end for c in none] == [c.end for c in one] == [c.end for c in two]
    assert all(t.start <= o.start <= n.start for n, o, t in zip(none, one, two))
    assert sum(o.start - t.start for o, t in zip(one, two)) > 0


def test_chunk_settings_name_the_bad_value():
    import pytest

    with pytest.raises(ValueError, match="overlap_sentences=-1"):
        ChunkSettings(overlap_sentences=-1)
    with pytest.raises(ValueError, match="chunk_overlap=300"):
        ChunkSettings(chunk_size=300, chunk_overlap=300)


WORDS = st.sampled_from(
    [
        "中国",
        "中亚",
        "峰会",
        "合作",
        "，",
        "、",
        "“",
        "”",
        "2024",
        "年",
        " ",
        "Belt",
        "and",
        "Road",
        "948",
        "亿美元",
        "；",
        "：",
        "3.5",
        "%",
        "(",
        ")",
        "GDP",
        ".",
        "\u3000",
        "（",
        "）",
        "“一带一路”",
    ]
)
ENDS = st.sampled_from(["。", "！", "？", "……", "!", "?", "。”", "\n", "\n\n", "标题\n", "\n小标题\n"])
# Texts are runs of sentences, some longer than a chunk, with random noise between them.
SENTENCES = st.tuples(st.lists(WORDS, max_size=60).map("".join), ENDS).map("".join)
NOISE = st.text(alphabet="中亚国a1。，！\n ", max_size=5)
TEXTS = st.lists(st.one_of(SENTENCES, SENTENCES, NOISE), min_size=2, max_size=40)


def _article(text: str):
    blocks = parse_layout(text)
    if not any(b.kind == "paragraph" for b in blocks):
        return None
    return build_article("t", blocks, {}, path=None)


@settings(max_examples=400, deadline=None)
@given(TEXTS, st.integers(min_value=20, max_value=120), st.integers(min_value=0, max_value=3), st.data())
def test_chunks_keep_offsets_and_cover_every_character_once_outside_the_overlap(
    pieces, size, sentences, data
):
    article = _article("".join(pieces))
    if article is None:
        return
    overlap = data.draw(st.integers(min_value=0, max_value=size - 1))
    config = ChunkSettings(chunk_size=size, chunk_overlap=overlap, overlap_sentences=sentences)
    chunks = chunk_article(article, config)
    owner = [0] * len(article.text)  # how many chunks hold each character outside their overlap
    previous = None
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert len(chunk.text) <= size + overlap
        new_from = chunk.start
        if previous is not None and previous.section == chunk.section and chunk.start < previous.end:
            assert previous.end - chunk.start <= overlap and sentences > 0
            assert previous.start <= chunk.start or sentences > 1
            new_from = previous.end
        assert previous is None or chunk.end > previous.end  # no chunk is all overlap
        for i in range(new_from, chunk.end):
            owner[i] += 1
        previous = chunk
    _assert_no_sentence_cut_that_fits(article, chunks, size)
    assert max(owner, default=0) <= 1  # nothing duplicated outside the overlap
    for start, end in article.paragraphs:  # nothing lost
        for i in range(start, end):
            assert owner[i] == 1 or article.text[i].isspace(), (article.text, i)


def _assert_no_sentence_cut_that_fits(article, chunks, size):
    """A chunk ends inside a sentence only when that sentence (with the space before it) exceeds `size`."""
    for section in article.sections:
        starts = sentence_starts(article.text, section.start, section.end, ChunkSettings().sentence_boundary)
        bounds = [*starts, section.end]
        for chunk in chunks:
            if not section.start <= chunk.start < section.end:
                continue
            i = bisect_right(bounds, chunk.end - 1)  # the sentence holding the last character
            sentence_end = bounds[i] if i < len(bounds) else section.end
            if article.text[chunk.end : sentence_end].strip():
                sentence_start = bounds[i - 1]
                # langchain measures a piece with the line break or space that precedes it
                while sentence_start > section.start and article.text[sentence_start - 1].isspace():
                    sentence_start -= 1
                assert sentence_end - sentence_start > size, (article.text[sentence_start:sentence_end], size)


def test_traditional_text_is_embedded_as_its_simplified_twin():
    """The model is given simplified characters (queries too), so a traditional corpus is
    embedded as the simplified one is; the chunk itself keeps the text as written."""
    settings = ChunkSettings()
    text = "第二屆中國—中亞峯會在哈薩克斯坦阿斯塔納獨立宮舉行。"
    article = Article("a", "峯會報道", text, ((0, len(text)),), (Section(None, 0, len(text)),))
    (chunk,) = chunk_article(article, settings)
    assert chunk.text == text
    assert (
        embed_text(chunk, article, settings)
        == "峰会报道\n第二届中国—中亚峰会在哈萨克斯坦阿斯塔纳独立宫举行。"
    )
