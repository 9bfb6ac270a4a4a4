"""Chunking keeps exact offsets, stays inside sections and never cuts a sentence that fits."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunk import chunk_article
from index.config import ChunkSettings
from index.ingest import build_article, corpus_files, read_corpus
from index.clean import parse_layout

SENTENCE_END = re.compile(r"[。！？]")


def test_offset_identity_and_sections_on_sample(sample_corpus):
    articles, _ = read_corpus(corpus_files(sample_corpus), root=sample_corpus)
    settings = ChunkSettings()
    for article in articles:
        chunks = chunk_article(article, settings)
        assert chunks
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= settings.chunk_size
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
            assert re.search(r"[。！？”）)]$", chunk.text), chunk.text[-20:]


def test_chunk_ids_are_content_hashes_stable_across_runs(sample_corpus):
    first = [c.id for a in read_corpus(corpus_files(sample_corpus))[0] for c in chunk_article(a, ChunkSettings())]
    again = [c.id for a in read_corpus(corpus_files(sample_corpus))[0] for c in chunk_article(a, ChunkSettings())]
    assert first == again


PIECES = st.sampled_from(["中国", "中亚", "峰会", "。", "，", "、", "“", "”", "2024", "年", " ", "\n", "\n\n", "Belt", "and", "Road", "！", "？", "948", "亿美元"])


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=200), st.integers(min_value=20, max_value=120))
def test_chunks_cover_the_article_and_keep_offsets(pieces, size):
    text = "".join(pieces)
    blocks = parse_layout(text)
    if not any(b.kind == "paragraph" for b in blocks):
        return
    article = build_article("t", blocks, {}, path=None)
    chunks = chunk_article(article, ChunkSettings(chunk_size=size, chunk_overlap=size // 4))
    covered = [False] * len(article.text)
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        for i in range(chunk.start, chunk.end):
            covered[i] = True
    # every non-space character of every paragraph lies in some chunk
    for start, end in article.paragraphs:
        for i in range(start, end):
            assert covered[i] or article.text[i].isspace(), (article.text, i)
