"""Abstention on the sample corpus with the real model: the seed sets, our own sets, and no
source or byline line as a passage or an answer."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from index.ingest.noncontent import non_content_kind

EVAL = Path(__file__).resolve().parents[2] / "eval"
pytestmark = pytest.mark.slow


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# Issue 11 asks for every seed unanswerable question and 95 % of our own to abstain; the rule
# reaches the first, not yet the second (README, "Abstention"). These floors are the figures
# it reaches, so that a change that loses ground fails; raise them as the rule improves.
SEED_UNANSWERABLE_FLOOR = 12  # of 12 (all measured: DN01 since a country is never a person)
OWN_UNANSWERABLE_FLOOR = 0.9  # share of the held-out half (0.925 measured: 37 of 40)
OWN_FALSE_ABSTENTION_CEILING = 0.05  # share of answerable questions (0.05 measured: 4 of 80)
# Sets written after the rule and its vetoes by a helper that never ran the bot, and never
# fitted on (eval/README.md): what the rule does on questions nobody tuned it on. Far below
# the figures above, and what the README reports as where abstention stands.
FRESH_UNANSWERABLE_FLOOR = 0.65  # share of 40 (0.675 measured: 27 of 40; 0.650 before the pointer fix)
FRESH_FALSE_ABSTENTION_CEILING = 0.2  # share of 30 (0.167 measured: 5 of 30)


def test_seed_unanswerable_questions_abstain_at_least_as_often_as_measured(sample_bot, shared_dir):
    rows = _rows(shared_dir / "eval" / "seed_unanswerable_dev.jsonl")
    abstained = [r["id"] for r in rows if sample_bot.ask(r["question"], history=r.get("history")).abstained]
    assert len(abstained) >= SEED_UNANSWERABLE_FLOOR, abstained


@pytest.mark.parametrize(
    "name, part, floor",
    [
        # the odd lines were not used to fit the default rule (qa calibrate fits on even lines)
        ("sample_unanswerable.jsonl", slice(1, None, 2), OWN_UNANSWERABLE_FLOOR),
        ("sample_unanswerable_fresh.jsonl", slice(None), FRESH_UNANSWERABLE_FLOOR),
    ],
)
def test_own_unanswerable_sets_abstain_at_least_as_often_as_measured(sample_bot, name, part, floor):
    rows = _rows(EVAL / name)[part]
    abstained = [r for r in rows if sample_bot.ask(r["question"], history=r.get("history")).abstained]
    assert len(abstained) >= floor * len(rows)


@pytest.mark.parametrize(
    "name, ceiling",
    [
        ("sample_answerable.jsonl", OWN_FALSE_ABSTENTION_CEILING),
        ("sample_answerable_fresh.jsonl", FRESH_FALSE_ABSTENTION_CEILING),
    ],
)
def test_own_answerable_sets_find_answers_and_rarely_abstain(sample_bot, name, ceiling):
    rows = _rows(EVAL / name)
    missed, abstained = [], []
    for row in rows:
        answer = sample_bot.ask(row["question"], history=row.get("history"))
        if answer.abstained:
            abstained.append(row["question"])
        if not any(_squash(a) in _squash(p.text) for a in row["answers"] for p in answer.passages):
            missed.append(row["question"])
    assert len(abstained) <= ceiling * len(rows), abstained
    assert len(missed) <= 0.10 * len(rows), missed


QUESTIONS = [
    "今天北京天气怎么样？",
    "What is the weather in Beijing today?",
    "How do I bake bread?",
    "文章原载于哪份报纸？",
    "这篇报道的记者是谁？",
    "2024年中国与中亚五国的贸易额达到多少？",
    "峰会在哪里举行？",
]


def test_no_passage_or_answer_is_a_source_or_byline_line(sample_bot):
    for question in QUESTIONS:
        answer = sample_bot.ask(question, top_k=10)
        lines = [line for p in answer.passages if p.kind == "text" for line in p.text.splitlines()]
        if answer.answer and not any(p.kind == "metadata" for p in answer.passages):
            lines.append(answer.answer)
        assert not [line for line in lines if non_content_kind(line)], question
        assert all("原载" not in p.text for p in answer.passages if p.kind == "text"), question


def test_the_source_question_is_answered_from_metadata_and_the_byline_question_abstains(sample_bot):
    source = sample_bot.ask("文章原载于哪份报纸？")
    assert not source.abstained and "人民日报" in source.answer
    assert source.passages[0].kind == "metadata" and source.passages[0].supports
    assert sample_bot.ask("这篇报道的记者是谁？").abstained
    # what the author thinks is in the text: it used to be read as a byline question and abstain
    opinion = sample_bot.ask("作者认为，中亚国家发展战略的关键路径是什么？")
    assert not opinion.abstained and "科技革命动能" in opinion.answer
    assert all(p.kind == "text" for p in opinion.passages)


def test_an_abstaining_answer_shows_passages_without_highlights_or_support(sample_bot):
    answer = sample_bot.ask("2024年中国与欧盟的贸易额是多少？")
    assert answer.abstained and answer.answer is None
    assert answer.passages and all(not p.highlights and not p.supports for p in answer.passages)


def test_follow_ups_read_with_the_previous_question_only_when_that_is_better_supported(sample_bot):
    kyrgyz = sample_bot.ask("那吉尔吉斯斯坦呢？", history=["哈萨克斯坦的新经济政策叫什么？"])
    assert not kyrgyz.abstained and "2026年前国家发展纲要" in _squash(kyrgyz.answer)
    assert sample_bot.ask("北京天气怎么样？", history=["2024年中国与中亚五国的贸易额达到多少？"]).abstained


def test_an_off_topic_follow_up_is_judged_on_its_own_and_a_pointing_back_one_with_the_history(sample_bot):
    # opens like a follow-up (那…) but asks about weather the articles never mention
    weather = sample_bot.ask("那后天会刮大风吗？", history=["首届中国—中亚峰会在哪座城市举行？"])
    assert weather.abstained and weather.answer is None
    # 它 points back; 召开 is not the articles' word (举行), so only the history finds the date
    held = sample_bot.ask("它是什么时候召开的？", history=["第四次中亚国家元首协商会议在哪个国家举行？"])
    assert not held.abstained and "2022年7月" in _squash(held.answer)


def test_a_question_on_another_topic_after_one_on_the_articles_abstains(sample_bot):
    # written for this test: each holds a word that looked like a pointer back (应该, 因此,
    # 这个周末, "is it true"), so it was read with the question before it and answered with
    # the summit's venue and its citation
    history = ["第二届中国—中亚峰会在哪里举行？"]
    for question in [
        "我应该什么时候去旅游？",
        "因此股市会涨吗？",
        "这个月的天气怎么样？",
        "Is it true that the weather will be good this weekend?",
    ]:
        answer = sample_bot.ask(question, history=history)
        assert answer.abstained and answer.answer is None, question
    when = sample_bot.ask("它是哪一天举行的？", history=history)
    assert not when.abstained and "6月17日" in when.answer


def test_an_english_question_about_what_the_articles_never_mention_abstains(sample_bot):
    for question in ["How do I fix a flat bicycle tyre?", "What is a good recipe for chocolate cake?"]:
        answer = sample_bot.ask(question)
        assert answer.abstained and answer.answer is None, question
    held = sample_bot.ask("Where was the second China–Central Asia Summit held?")
    assert not held.abstained and "阿斯塔纳" in held.answer


def test_a_question_naming_nothing_abstains(sample_bot):
    # written for this test: what a chat box also gets (question words alone, punctuation, a
    # letter, an emoji, greetings, thanks, assent); each used to come back answered with some
    # passage and its citation
    for question in [
        *("什么？", "为什么", "请问", "是什么", "？？？", "。", "的", "a", "the", "What?", "😀"),
        *("你好", "谢谢你", "好的", "嗯", "测试", "你是谁？", "hello", "Thanks!", "ok", "Who are you?"),
    ]:
        assert "nothing asked" in sample_bot.vetoes(sample_bot.gather(question, [], 5)), question
        answer = sample_bot.ask(question)
        assert answer.abstained and answer.answer is None, question
    # a greeting before a question changes nothing
    for question in [
        "你好，请问第二届中国—中亚峰会在哪里举行？",
        "Hi, where was the second China–Central Asia Summit held?",
    ]:
        answer = sample_bot.ask(question)
        assert not answer.abstained and "阿斯塔纳" in answer.answer, question
    # a follow-up naming nothing new is read with the question before it, which names something
    more = sample_bot.ask("那它呢？", history=["中国与中亚五国的贸易额达到多少？"])
    assert not more.abstained and "948" in more.answer
    # one word the articles hold is a question about it, as in a search box
    assert not sample_bot.ask("阿斯塔纳").abstained


def test_an_english_question_no_word_of_which_the_dictionary_or_the_articles_know_abstains(sample_bot):
    # written for this test: the articles never name Kazakhstan's president, and the dictionary
    # renders none of these words, so nothing but the embedding links them to the articles; the
    # fitted rule weighs only rendered terms across scripts and answered every one alike
    for question, veto in [
        ("Who is Tokayev?", "tokayev"),
        ("lorem ipsum dolor", "lorem"),
        ("asdfgh", "asdfgh"),
    ]:
        assert veto in sample_bot.vetoes(sample_bot.gather(question, [], 5)), question
        answer = sample_bot.ask(question)
        assert answer.abstained and answer.answer is None, question
    held = sample_bot.ask("Where is Astana?")
    assert not held.abstained and "阿斯塔纳" in held.answer


def test_an_english_question_whose_answer_line_lacks_what_it_asks_for_abstains(sample_bot):
    # written for this test, not in the eval sets: the articles name the railway, never its
    # length. (Not caught: "In what year did the Kazakhstan–China crude oil pipeline open?",
    # answered with a sentence about development strategies that holds years.)
    question = "How many kilometres long is the China–Kyrgyzstan–Uzbekistan railway?"
    answer = sample_bot.ask(question)
    assert answer.abstained and answer.answer is None, answer.answer
    held = sample_bot.ask("How much was trade between China and the five Central Asian countries in 2024?")
    assert not held.abstained and "948" in held.answer


def test_an_english_question_about_another_year_abstains(sample_bot):
    # written for this test: the articles give the 2024 trade figure and speak of 2023 and 2022
    # elsewhere, so the year is a word the corpus holds, but not the answer's passage
    for question in [
        "What was the trade volume between China and Central Asia in 2023?",
        "How much did trade between China and the five Central Asian countries reach in 2022?",
    ]:
        year = question[-5:-1]
        assert year in sample_bot.vetoes(sample_bot.gather(question, [], 5)), question
        assert sample_bot.ask(question).abstained, question
    held = sample_bot.ask("What was the trade volume between China and Central Asia in 2024?")
    assert not held.abstained and "948" in held.answer


def test_a_chinese_question_for_a_year_or_a_length_abstains_when_the_line_holds_none(sample_bot):
    # written for this test, not in the eval sets: the articles name the palace and the
    # railway, never when they were built or how long it is; a year, a country or a length is
    # a kind whose check is sure (qa.expect.sure), so a line without one is vetoed
    for question, veto in [
        ("阿斯塔纳独立宫是哪一年建成的？", "no year in the answer"),
        ("中吉乌铁路是哪一年开工的？", "no year in the answer"),
        ("中吉乌铁路全长多少公里？", "no number in the answer"),  # a length needs its unit
    ]:
        found = sample_bot.gather(question, [], 5)
        assert veto in sample_bot.vetoes(found), question
        answer = sample_bot.ask(question)
        assert answer.abstained and answer.answer is None, question
    held = sample_bot.ask("中国同中亚五国建交30周年视频峰会是哪一年举行的？")
    assert not held.abstained and "2022年" in held.answer
    held = sample_bot.ask("第二届中国—中亚峰会在哪个国家举行？")
    assert not held.abstained and "哈萨克斯坦" in held.answer
