"""index.text: the one home of the Chinese text rules, each variant keeping its character set."""

from __future__ import annotations

import re

import pytest

from index.settings import ChunkSettings
from index.text import (
    HEADING_PUNCT,
    LINE_END,
    SENTENCE_END,
    ZH_SENTENCE_BOUNDARY,
    TOMLDecodeError,
    bigrams,
    char_class,
    fold,
    latin_share,
    load_toml,
    split_sentences,
    tokenize,
)

# Every punctuation mark the rules could be about, and what may follow one.
MARKS = "。！？!?…；;，,、：:.”’」』）)\"'“‘「『（(—·　 \n"
FOLLOWERS = ["", "”", "」", "'", '"', "字", "x", "\n"]


def _agree(old: str, new: re.Pattern[str]) -> None:
    """The rule built in index.text matches exactly where the rule it replaced did."""
    before = re.compile(old)
    for mark in MARKS:
        for follower in FOLLOWERS:
            for text in (mark + follower, "句子" + mark + follower):
                assert bool(before.search(text)) == bool(new.search(text)), (old, text)


def test_chunk_separators_are_stored_exactly_as_before() -> None:
    # these strings are written into every manifest: a change would mark every index as stale
    end = r"(?<=[。！？!?…])(?![”’」』）)\"'])|(?<=[。！？!?…][”’」』）)\"'])"
    settings = ChunkSettings()
    assert settings.separators == (r"\n", end, r"(?<=[；;])", r"(?<=[，,、：:])", r"(?<=\s)", "")
    assert settings.sentence_boundary == ZH_SENTENCE_BOUNDARY == r"(?<=\n)|" + end


def test_layout_repair_keeps_its_line_end_and_heading_rules() -> None:
    _agree(r"[。！？!?…；;]['\"”’」』）)]*$", LINE_END)
    _agree(r"[，。；：！？,;:!?]", HEADING_PUNCT)


def test_titles_and_answers_end_a_sentence_at_semicolons_but_not_at_an_ellipsis() -> None:
    _agree(r"[。！？!?；;]", SENTENCE_END)
    assert SENTENCE_END.split("他说……然后走了；第二句", maxsplit=1)[0] == "他说……然后走了"


def test_split_sentences_keeps_closing_quotes_and_trims_spaces() -> None:
    text = " 他说：“我们来了。”然后呢？\n第三句；第四句…没完"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["他说：“我们来了。”", "然后呢？", "第三句；", "第四句…没完"]


def test_split_sentences_matches_the_answer_rule_it_replaces() -> None:
    # the rule as its docstring says, "or to a line end": without MULTILINE, `$` matched only at
    # the text's end, and a line without an end mark before another line was no sentence at all
    # (every paragraph of an English article but its passage's last)
    old = re.compile(r"[^。！？!?；;\n]+(?:[。！？!?；;]+[”’」』）)\"']*|$)|[。！？!?；;]+", re.MULTILINE)
    for text in ["。。", "a!b?c", "“好。”「对！」", "  \n  ", "一；二;三\n四", "x。)'y", " 甲 。 乙 "]:
        trimmed = []
        for match in old.finditer(text):
            piece = match.group()
            start, end = (
                match.start() + len(piece) - len(piece.lstrip()),
                match.end() - len(piece) + len(piece.rstrip()),
            )
            if end > start:
                trimmed.append((start, end))
        assert split_sentences(text) == trimmed, text


def test_split_sentences_ends_an_english_sentence_at_a_full_stop_before_a_capital() -> None:
    text = (
        "The council voted on Tuesday. Construction will begin in March 2027 and cost 1.2 billion "
        'euros. Mr. Berg met J. K. Rowling in the U.S. on Friday. He said "Go." 3 people left. 他说：好。'
    )
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "The council voted on Tuesday.",
        "Construction will begin in March 2027 and cost 1.2 billion euros.",
        "Mr. Berg met J. K. Rowling in the U.S. on Friday.",  # a title, initials, U.S.
        'He said "Go."',
        "3 people left.",
        "他说：好。",
    ]
    # nothing changes in Chinese text, nor at a full stop before a small letter or a number's point
    assert split_sentences("峰会举行。习近平讲话。") == [(0, 5), (5, 11)]
    assert len(split_sentences("Prices rose 3.5 per cent. e.g. this one")) == 1


def test_char_class_escapes_what_a_class_would_read_as_syntax() -> None:
    assert re.fullmatch(char_class("]^-\\"), "^") and re.fullmatch(char_class("]^-\\"), "\\")
    assert not re.fullmatch(char_class("a-c"), "b")


def test_folding_and_tokens() -> None:
    assert fold("ＡＢＣ 漢語") == "abc 汉语"
    assert bigrams("中国人") == ["中国", "国人"]
    tokens = tokenize("What is 中國？")
    assert "#中国" in tokens and "what" not in tokens  # folded, bigrams marked, stopwords dropped


def test_latin_share() -> None:
    assert latin_share("中文") == 0.0 and latin_share("abc") == 1.0 and latin_share("ab中文") == 0.5
    assert latin_share("123。") == 0.0


def test_load_toml() -> None:
    assert load_toml('title = "标题"\n[[articles]]\nauthor = "某"') == {
        "title": "标题",
        "articles": [{"author": "某"}],
    }
    with pytest.raises(TOMLDecodeError):
        load_toml("title = ")
