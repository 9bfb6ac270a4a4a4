"""Ranked chunks into passages: merging overlapping chunks, what a chunk too long to merge keeps,
counting the copies of one text (reprints) once, and moving down the chunks that answer with a
sentence a better-ranked chunk holds."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

from index.store.records import MemoryChunks
from qa.passages import COPY_SHARE, Ranked, collapse_copies, demote_echoes, merge_candidates, uncovered

# One article of six sentences; chunks reach back over one sentence, as the index cuts them
SENTENCES = [
    "甲" * 99 + "。",
    "乙" * 99 + "。",
    "丙" * 99 + "。",
    "丁" * 99 + "。",
    "戊" * 99 + "。",
    "己" * 99 + "。",
]
TEXT = "".join(SENTENCES)


def _index(spans: list[tuple[int, int]]) -> Any:
    chunks = MemoryChunks(_chunk("a", TEXT[s:e], s) for s, e in spans)
    return SimpleNamespace(chunks=chunks, articles={"a": SimpleNamespace(text=TEXT)})


def _chunk(article_id: str, text: str, start: int = 0) -> Any:
    return SimpleNamespace(
        chunk=SimpleNamespace(article_id=article_id, text=text, start=start, end=start + len(text))
    )


def _articles(*texts: tuple[str, str]) -> Any:
    """An index whose chunk i is the whole of article texts[i] (id, text)."""
    return SimpleNamespace(
        chunks=MemoryChunks(_chunk(a, t) for a, t in texts),
        articles={a: SimpleNamespace(text=t) for a, t in texts},
    )


def _ranked(*positions: int) -> list[Ranked]:
    return [Ranked(p, 1.0 / (i + 1), 0.5) for i, p in enumerate(positions)]


# chunk 0: sentences 0-1; 1: 1-3 (reaching back over 1); 2: 3-5 (reaching back over 3)
CHUNKS = [(0, 200), (100, 400), (300, 600)]


def test_overlapping_chunks_merge_into_one_passage_in_fused_order():
    passages = merge_candidates(_ranked(1, 0), _index(CHUNKS), top_k=5)
    assert [(p.start, p.end, p.positions) for p in passages] == [(0, 400, (1, 0))]


def test_a_chunk_too_long_to_merge_keeps_the_text_no_passage_holds():
    # chunks 0 and 2 are chosen first; chunk 1 joins them, but 0-600 is over max_chars
    passages = merge_candidates(_ranked(0, 2, 1), _index(CHUNKS), top_k=5, max_chars=450)
    spans = [(p.start, p.end) for p in passages]
    assert spans == [(0, 200), (300, 600), (200, 300)]
    assert TEXT[200:300] == SENTENCES[2], "the piece is the chunk's own sentence, whole"
    assert passages[2].positions == (1,)
    covered = sorted(spans)
    assert all(a[1] <= b[0] for a, b in pairwise(covered)), "no text is returned twice"


def test_a_piece_is_kept_only_while_there_is_room_and_only_if_it_has_text():
    assert len(merge_candidates(_ranked(0, 2, 1), _index(CHUNKS), top_k=2, max_chars=450)) == 2
    # the second chunk adds only 5 characters to the first: too few for a passage
    spans = [(0, 200), (150, 205)]
    passages = merge_candidates(_ranked(0, 1), _index(spans), top_k=5, max_chars=200)
    assert [(p.start, p.end) for p in passages] == [(0, 200)]


def test_uncovered_parts():
    assert uncovered(0, 10, []) == [(0, 10)]
    assert uncovered(0, 10, [(2, 4), (6, 8)]) == [(0, 2), (4, 6), (8, 10)]
    assert uncovered(3, 7, [(0, 5), (4, 9)]) == []
    assert uncovered(3, 7, [(5, 6), (0, 4)]) == [(4, 5), (6, 7)]


# An agency story as three papers printed it (one hard-wrapped, one with a line of its own
# added), and two articles that say something else about the same subject
STORY = (
    "国家统计局今天发布数据，上半年粮食总产量达到一亿五千万吨。夏粮主产区小麦收获基本结束。"
    "各地抓紧抢收抢种，秋粮播种面积稳中有增。"
)
REPRINTS = _articles(
    ("paper-a", STORY),
    ("paper-b", STORY.replace("粮食", "粮食\n").replace("小麦", "小麦\n")),
    ("paper-c", STORY + "记者王明。"),
    ("paper-d", "粮食增产主要来自单产提高，良种推广功不可没。"),
    ("paper-e", "专家认为，秋粮生产仍面临高温干旱的考验。"),
)


def test_a_story_reprinted_by_other_papers_takes_one_rank_and_the_others_move_up():
    assert collapse_copies([[0, 1, 2, 3, 4]], REPRINTS).rankings == [[0, 3, 4]]
    assert collapse_copies([[3, 2, 0, 4, 1]], REPRINTS).rankings == [[3, 2, 4]], (
        "the copy ranked first stays, whichever it is"
    )


def test_copies_found_by_different_retrievers_count_as_one_text_for_both():
    # keyword search ranks paper-b's copy first, dense search paper-a's: both now rank paper-b's
    assert collapse_copies([[1, 3], [0, 4, 2]], REPRINTS).rankings == [[1, 3], [1, 4]]
    # the copy ranked higher anywhere stands for the text, here paper-a's (dense rank 1)
    assert collapse_copies([[3, 1], [0, 4]], REPRINTS).rankings == [[3, 0], [0, 4]]


def test_the_copy_both_retrievers_found_stands_for_the_text():
    # keyword search ranks paper-a's copy first; both rank paper-c's, which has a sentence more
    assert collapse_copies([[0, 3, 2], [4, 2]], REPRINTS).rankings == [[2, 3], [4, 2]]
    # what counts is each copy's fused score of its own, weighted as fusion weighs the lists
    assert collapse_copies([[0, 3, 2], [4, 2]], REPRINTS, weights=[1.0, 0.01]).rankings == [[0, 3], [4, 0]]


def test_the_copy_that_stands_for_a_text_tells_the_copies_it_stands_for_best_first():
    assert collapse_copies([[0, 1, 2, 3, 4]], REPRINTS).copies == {0: (1, 2)}
    # paper-b's copy is seen first (rank 1 of one list), paper-c's second, but two lists rank
    # paper-c's: after paper-a's, which stands for the text, it has the best fused score
    collapsed = collapse_copies([[1, 0], [3, 2, 0], [4, 2, 0]], REPRINTS)
    assert collapsed.rankings == [[0], [3, 0], [4, 0]]
    assert collapsed.copies == {0: (2, 1)}
    assert collapse_copies([[3, 4, 0]], REPRINTS).copies == {}, "a text printed once has no copies"


def test_a_chunk_is_no_copy_of_one_that_holds_it_with_much_more():
    first, second = "国家统计局今天发布数据，上半年粮食总产量达到一亿五千万吨。", "早稻产量创历史新高。"
    rest = "晚稻播种面积稳中有增，各地抓紧抢收抢种，农业农村部派出工作组分赴各地指导。"
    sharing = _articles(("x", first), ("y", second), ("z", first + second + rest))
    assert (len(first) + len(second)) / len(first + second + rest) > 0.5
    # z shares a sentence with x and one with y, over half its text between them: a copy of neither
    assert collapse_copies([[0, 1, 2]], sharing).rankings == [[0, 1, 2]]
    # x is all in z, but z says much more: x is an excerpt, not a copy, and the two are kept
    assert collapse_copies([[2, 0, 1]], sharing).rankings == [[2, 0, 1]]
    assert COPY_SHARE > 0.5


def test_chunks_without_text_are_no_copies():
    assert collapse_copies([[0, 1]], _articles(("x", "。。"), ("y", "！"))).rankings == [[0, 1]]


def test_overlapping_chunks_of_one_article_are_not_copies():
    # chunk 1 repeats chunk 0's second sentence and chunk 2 chunk 1's last: the index cuts them so
    assert collapse_copies([[0, 1, 2]], _index(CHUNKS)).rankings == [[0, 1, 2]]
    assert collapse_copies([[0, 1]], _index([(0, 200), (100, 200)])).rankings == [[0, 1]]


# A spokesman's line quoted inside three stories that differ elsewhere, and a fourth story that
# answers the same question in other words; a question's keywords with made-up IDF weights
QUOTE = "发言人表示，新建的研发中心将于明年在深圳投入使用。"
ECHOING = _articles(
    ("story-a", "市政府今天召开发布会。" + QUOTE + "项目总投资约十亿元。"),
    ("story-b", QUOTE + "当地居民对此表示欢迎。"),
    ("story-c", "记者从市发改委获悉。" + QUOTE),
    ("story-d", "该公司深圳研发中心选址已定，计划明年投用。"),
    ("story-e", "全市今年新增绿地三百公顷。"),
)
ASKED = {"研发中心": 3.0, "深圳": 2.0, "明年": 1.0, "哪里": 0.0}


def _stored(index: Any) -> dict[int, Any]:
    return {p: index.chunks[p] for p in range(len(index.chunks))}


def test_chunks_answering_with_a_sentence_a_better_one_holds_move_behind_the_others():
    stored = _stored(ECHOING)
    assert demote_echoes([0, 1, 2, 3, 4], stored, ASKED, keep=5) == [0, 3, 4, 1, 2]
    assert demote_echoes([1, 0, 3, 2], stored, ASKED, keep=5) == [1, 3, 0, 2], (
        "the chunk ranked first keeps its place, whichever it is"
    )


def test_the_echoes_make_room_for_chunks_below_them():
    stored = _stored(ECHOING)
    # with room for three, the two echoes give way to the stories ranked below them
    assert demote_echoes([0, 1, 2, 3, 4], stored, ASKED, keep=3) == [0, 3, 4]
    # without enough other chunks, echoes fill the room left, in their order
    assert demote_echoes([0, 1, 2, 3], stored, ASKED, keep=3) == [0, 3, 1]


def test_chunks_of_one_article_never_echo_each_other():
    # chunk 1 repeats chunk 0's second sentence, chunk 2 chunk 1's last: the index cuts them so
    overlapping = _index(CHUNKS)
    stored = {p: overlapping.chunks[p] for p in range(3)}
    weights = {"乙" * 99: 1.0, "丁" * 99: 1.0}
    assert demote_echoes([0, 1, 2], stored, weights, keep=3) == [0, 1, 2]


def test_a_chunk_holding_none_of_the_keywords_echoes_nothing():
    stored = _stored(ECHOING)
    # no keyword of this question is in any story: the ranking is kept as it is
    assert demote_echoes([0, 1, 2, 3, 4], stored, {"北京": 2.0}, keep=5) == [0, 1, 2, 3, 4]
    # nor are keywords of weight 0 (a word every chunk holds) or empty ones
    assert demote_echoes([0, 1, 2], stored, {"发言人": 0.0, "": 5.0}, keep=5) == [0, 1, 2]


def test_echoes_are_judged_by_the_sentence_matching_the_question_best():
    stored = _stored(ECHOING)
    # asked about the investment, story-a's best sentence is its own: b, not a, is the first to
    # answer with the quote, and c echoes b
    assert demote_echoes([0, 1, 2, 3], stored, {"投资": 3.0, "研发中心": 1.0}, keep=4) == [0, 1, 3, 2]
    # asked about the residents, story-b's best sentence is its own, and c echoes a, not b
    assert demote_echoes([1, 0, 2, 3], stored, {"居民": 3.0, "研发中心": 1.0}, keep=4) == [1, 0, 3, 2]


def test_keywords_are_matched_in_lower_case_and_nfkc_as_the_index_folds_them():
    quoted = _articles(
        ("wire-a", "ＮＡＴＯ峰会将于七月举行。会场设在维尔纽斯。"),
        ("wire-b", "NATO峰会将于七月举行。"),
        ("wire-c", "北约秘书长今天抵达会场。"),
    )
    # the question's keywords come folded (nato); the same sentence in either width echoes
    assert demote_echoes([1, 0, 2], _stored(quoted), {"nato": 2.0, "峰会": 1.0}, keep=3) == [1, 2, 0]


def test_chunks_ranked_below_fill_the_places_of_echoes_and_are_read_only_then():
    everything = _stored(ECHOING)
    reads: list[list[int]] = []

    def read(positions: list[int]) -> list[Any]:
        reads.append(positions)
        return [everything[p] for p in positions]

    head = {p: everything[p] for p in (0, 1, 2)}
    # keep 3 of [0, 1, 2]: 1 and 2 echo 0, so 3 and 4, ranked below, are read and fill in
    assert demote_echoes([0, 1, 2], head, ASKED, keep=3, deeper=[1, 3, 4], read=read) == [0, 3, 4]
    assert reads == [[3, 4]], "one read, of the chunks not ranked already"
    # a ranking without echoes: nothing below is read, even with room left
    reads.clear()
    two = {p: everything[p] for p in (0, 3)}
    assert demote_echoes([0, 3], two, ASKED, keep=3, deeper=[4], read=read) == [0, 3]
    assert reads == []
    # echoes and too little below: the echoes fill the room left, and the chunks read are kept
    three = {p: everything[p] for p in (0, 1, 2)}
    assert demote_echoes([0, 1, 2], three, ASKED, keep=4, deeper=[3], read=read) == [0, 3, 1, 2]
    assert reads == [[3]]
