"""The evidence the abstention rule weighs: question terms, what is asked for, metadata questions."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from index.documents import Article
from index.text import tokenize
from qa.abstain import answerable_probability
from qa.calibrate import fit_logistic
from qa.expect import expected_kind, holds, sure
from qa.provenance import asked_field, provenance_line
from qa.settings import ABSTAIN_INPUTS, RetrievalSettings
from qa.terms import covered, follow_up_terms, known, question_terms


def _words(question: str) -> list[str]:
    return [t.word for t in question_terms(question)]


def test_question_terms_drop_question_words_but_keep_every_named_thing():
    assert _words("2024年中国与欧盟的贸易额是多少？") == ["2024", "年", "中国", "欧盟", "贸易额"]
    assert "总统" in _words("吉尔吉斯斯坦总统是谁？")
    assert not {"多少", "是", "谁", "什么"} & set(_words("中国的首都是什么？谁知道有多少人？"))


def test_words_about_the_article_and_its_author_are_not_what_a_question_asks_about():
    # "the author thinks", "according to the article": an article seldom names itself, so these
    # words would count as absent from the corpus, the sign of an unanswerable question
    assert _words("作者认为当今的冲突说到底是在争夺什么？") == ["当今", "冲突", "争夺"]
    assert _words("根据文章，中亚国家重申恪守什么原则？") == ["中亚国家", "重申", "恪守", "原则"]
    assert "欧盟" in _words("文章提到欧盟的贸易额是多少？")


def test_a_term_is_covered_by_its_word_or_by_all_its_bigrams():
    (term,) = question_terms("阿斯塔纳")
    assert covered(term, set(tokenize("峰会在阿斯塔纳举行")))
    assert covered(term, {"#阿斯", "#斯塔", "#塔纳"})  # jieba cut the name differently in the article
    assert not covered(term, set(tokenize("峰会在北京举行")))


def test_a_term_the_corpus_never_holds_is_absent():
    vocabulary = set(tokenize("2024年，中国与中亚五国的贸易额达到948亿美元"))
    terms = {t.word: t for t in question_terms("2024年中国与欧盟的贸易额是多少？")}
    assert known(terms["贸易额"], vocabulary.__contains__)
    assert not known(terms["欧盟"], vocabulary.__contains__)


def test_a_follow_up_replaces_the_previous_questions_name_of_the_same_kind():
    terms = follow_up_terms(
        question_terms("那吉尔吉斯斯坦呢？"), question_terms("哈萨克斯坦的新经济政策叫什么？")
    )
    words = [t.word for t in terms]
    assert "吉尔吉斯斯坦" in words and "哈萨克斯坦" not in words
    assert "经济政策" in words or "经济" in words


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("2024年的贸易额是多少？", "number"),
        ("峰会是哪一年举行的？", "year"),
        ("峰会是什么时候举行的？", "date"),
        ("吉尔吉斯斯坦总统是谁？", "person"),
        ("峰会在哪里举行？", "place"),
        ("撒马尔罕位于今天的哪个国家？", "country"),
        ("齐庄公派栾盈攻击哪国？", "country"),
        ("Which country hosted the summit?", "country"),
        ("哪个国际组织最早成立？", "any"),  # 国际 is not 国
        ("中亚的哪几座古城曾是文明交汇的枢纽？", "any"),  # which ones, not how many
        # in English the first question word decides: "when" and "who" later are conjunctions
        ("How much silver did he donate when the Opium War broke out?", "number"),
        ("What is the name of the man who founded the college?", "any"),
        ("In what year was the cave discovered?", "year"),
        ("习近平主席是哪几天在阿斯塔纳出席峰会的？", "date"),
        ("How many countries attended?", "number"),
        ("Who signed the treaty?", "person"),
        ("“中国—中亚精神”的核心内涵是什么？", "any"),
        ("中國已經在中亞建了幾個魯班工坊？", "number"),  # 幾個 in traditional characters
    ],
)
def test_what_a_question_asks_for(question, kind):
    assert expected_kind(question) == kind


def test_a_sentence_holds_what_is_asked_for_or_not():
    assert holds("number", "贸易额达到948亿美元")
    assert not holds("number", "双方同意深化合作")
    assert holds("date", "2022年7月，会议在比什凯克举行")
    # a day of a month does not say which year: "哪一年建成" is not answered by "6月17日"
    assert not holds("year", "6月17日，峰会在阿斯塔纳独立宫举行。", "独立宫是哪一年建成的？")
    assert holds("year", "独立宫于2004年建成。", "独立宫是哪一年建成的？")
    # years of an era name count (贞观元年, 康熙十年); a school year does not
    assert holds("year", "贞观元年，玄奘西行。", "玄奘是哪一年西行的？")
    assert holds("year", "康熙十年，他调任知府。", "他是哪一年调任知府的？")
    assert not holds("year", "他读小学三年级。", "他是哪一年入学的？")
    assert holds("any", "任何句子")
    # traditional characters hold what their simplified twins hold: 縣 ends a place as 县 does
    assert holds("place", "會議在昌吉縣舉行", "會議在哪裡舉行？")
    assert not holds("place", "雙方同意深化合作", "會議在哪裡舉行？")


def test_metadata_questions_are_answered_from_metadata_or_not_at_all():
    article = Article("a", "标题", "正文。", ((0, 3),), (), source="人民日报", date="6月30日")
    assert asked_field("文章原载于哪份报纸？") == "source"
    assert asked_field("这篇报道的记者是谁？") == "author"
    assert asked_field("Which newspaper published the article?") == "source"
    assert asked_field("峰会在哪里举行？") is None
    for asks_for_the_author in (
        "文章的作者是谁？",
        "这篇文章是谁写的？",
        "作者叫什么名字？",
        "《人民日报》这篇报道的作者是谁？",
        "Who wrote this article?",
        "Who is the author of the article?",
    ):
        assert asked_field(asks_for_the_author) == "author", asks_for_the_author
    # what the author thinks is the article's content, not its byline
    for about_the_content in (
        "作者认为当今的冲突说到底是在争夺什么？",
        "作者在文中提到了哪些合作领域？",
        "According to the author, what is the key to the summit's success?",
        "《红楼梦》的作者是谁？",  # the author of a work the articles may speak of, not their byline
        "Who wrote the novel Dream of the Red Chamber?",
        "红楼梦的作者是谁？",
        "这首诗是谁写的？",
        "Who is the author of Dream of the Red Chamber?",
    ):
        assert asked_field(about_the_content) is None, about_the_content
    assert provenance_line(article, "source") == "本文原载6月30日《人民日报》。"
    assert provenance_line(article, "author") is None  # no byline recorded: nothing to say


def test_a_rule_fitted_for_other_evidence_falls_back_to_the_defaults(caplog):
    with caplog.at_level(logging.WARNING):
        settings = RetrievalSettings.from_dict(
            {"abstain_weights": [1, 2, 3, 4, 5], "abstain_threshold": 0.3, "keyword_weight": 1.5}
        )
    assert settings.abstain_weights == RetrievalSettings().abstain_weights
    assert settings.keyword_weight == 1.5  # the rest of the section still applies
    assert "calibrate" in caplog.text
    assert len(settings.abstain_weights) == ABSTAIN_INPUTS + 1


def test_fitted_weights_keep_the_sign_of_their_evidence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, ABSTAIN_INPUTS))
    y = (x[:, 0] - x[:, 4] + 0.3 * rng.normal(size=400) > 0).astype(float)
    x[:, 6] = -x[:, 0]  # a "for" feature that this data would give a negative weight
    weights = fit_logistic(x, y)
    assert weights[1] > 0 and weights[5] < 0
    assert weights[7] >= 0
    p = answerable_probability(weights, x)
    assert ((p > 0.5) == (y == 1)).mean() > 0.9


def test_numbers_ordinals_and_names_pin_down_the_fact_asked_about():
    from qa.terms import constraints

    pinned = [t.word for t in constraints(question_terms("2023年第三届中国—中亚峰会在哪座城市举行？"))]
    assert "2023" in pinned and "第三届" in pinned and "中亚" in pinned
    assert [t.word for t in constraints(question_terms("第一次播出是什么时候？"))] == []
    assert "城市" not in pinned  # a common noun jieba tags as a place
    vague = [t.word for t in constraints(question_terms("峰会上成立了一个什么平台？有哪几股势力？"))]
    assert vague == []


def test_a_passage_without_the_questions_year_or_name_does_not_match_it():
    from qa.terms import unmatched

    passage = set(tokenize("2024年，中国与中亚五国的贸易额达到948亿美元。"))
    assert unmatched(question_terms("2023年中国与中亚五国的贸易额是多少？"), passage) == ["2023"]
    assert unmatched(question_terms("2024年中国与中亚五国的贸易额是多少？"), passage) == []
    assert unmatched(question_terms("中国与日本的贸易额是多少？"), passage) == ["日本"]
    # a name jieba cuts across a comma in the article is covered by the word inside it
    summit = set(tokenize("本届峰会上，六国元首共同见证签署行动计划。"))
    assert unmatched(question_terms("本届峰会上六国元首共同见证签署了什么行动计划？"), summit) == []


def test_a_first_edition_is_pinned_down_either_way_it_is_written():
    from qa.terms import unmatched

    second = set(tokenize("《第二届中国—中亚峰会阿斯塔纳宣言》是本届峰会的成果文件。"))
    assert unmatched(question_terms("首届中国—中亚峰会通过的宣言叫什么名字？"), second) == ["首届"]
    first = set(tokenize("2023年5月，第一届中国—中亚峰会在西安成功举行。"))
    assert unmatched(question_terms("首届中国—中亚峰会在哪里举行？"), first) == []
    assert (
        unmatched(
            question_terms("第一届中国—中亚峰会在哪里举行？"), set(tokenize("首届中国—中亚峰会在西安举行。"))
        )
        == []
    )
    assert "名字" not in _words("首届峰会通过的宣言叫什么名字？")  # it frames the question


def test_what_is_asked_for_must_be_something_the_question_does_not_already_name():
    assert not holds("number", "2023年，首届峰会在西安举行。", "2023年的贸易额是多少？")
    assert holds("number", "2024年的贸易额达到948亿美元。", "2024年的贸易额是多少？")
    assert not holds("place", "撒马尔罕是东西方文明交汇的枢纽。", "撒马尔罕位于哪个国家？")
    assert holds("place", "撒马尔罕位于乌兹别克斯坦。", "撒马尔罕位于哪个国家？")


def test_a_number_asked_in_a_unit_needs_an_amount_in_that_unit():
    # a date is no length, a sum of money no percentage, a year no population
    assert not holds("number", "6月16日至18日，习近平主席赴阿斯塔纳出席峰会。", "中哈边境线有多长？")
    assert holds("number", "主跑道长1,980米。", "主跑道有多长？")
    assert not holds("number", "贸易额达到948亿美元。", "贸易额比上一年增长了百分之多少？")
    assert holds("number", "贸易额增长了35.4%。", "贸易额比上一年增长了百分之多少？")
    assert not holds("number", "吉尔吉斯斯坦“2026年前国家发展纲要”", "哈萨克斯坦现在有多少人口？")
    assert holds("number", "2007年人口为91606人。", "2007年，卡塞雷斯的人口有多少？")
    assert not holds(
        "number", "中吉乌铁路项目正式启动、中哈第三条铁路规划稳步推进。", "中吉乌铁路的总投资是多少？"
    )
    assert holds("number", "项目总投资约为59亿美元。", "中吉乌铁路的总投资是多少？")
    assert holds("number", "约为0.304平方公里。", "公园的面积有多大？")
    assert not holds("number", "公园建于1930年。", "公园的面积有多大？")
    assert holds("number", "Its area is 1.6 km²", "What is the area of the park?")
    # a number inside quotation or title marks is part of a name, not what the sentence states
    assert not holds("year", "共同描绘下一个“黄金三十年”的美好画卷。", "外长会晤机制是哪一年建立的？")
    assert not holds("number", "实施《2030年前国家发展战略》。", "战略有几个目标？")
    assert holds("year", "该人物首先出现于《无限危机 #3》（2006年二月）。", "该人物哪一年首次出现？")
    # an amount in Chinese numerals needs no classifier once it counts tens or more
    assert holds("number", "鸦片战争爆发时，又捐助军需银八万两。", "How much silver did he donate?")
    assert not holds("number", "这一点十分重要。", "有多少？")
    # an English question says its measure in words
    assert not holds(
        "number", "“新乌兹别克斯坦”2022—2026年发展战略", "How many kilometres long is the railway?"
    )
    assert holds("number", "铁路全长523公里。", "How many kilometres long is the railway?")
    # no measure named: any number not in the question will do, as before
    assert holds("number", "贸易额达到948亿美元。", "2024年的贸易额是多少？")
    # heights in centimetres, in any case of the letters
    assert holds("number", "身高182CM，体重75公斤。", "张天霖的身高是多少？")
    assert holds("number", "身高182公分。", "他的身高是多少？")
    # rates change in percentage points, temperatures are given in degrees Celsius
    assert holds("number", "增长率比上年提高0.5个百分点。", "增长率是多少？")
    assert holds("number", "最低气温零下20摄氏度。", "当地冬天的气温是多少？")
    assert not holds("number", "当地冬天漫长。", "当地冬天的气温是多少？")


def test_only_kinds_whose_check_is_sure_veto_a_line_without_them():
    """A year, a country and a physical amount are always written so the check finds them; a
    person, a place, a date, a sum of money or a head count may not be ("人口约50万")."""
    assert sure("year", "独立宫是哪一年建成的？") and sure("country", "撒马尔罕位于哪个国家？")
    assert sure("number", "铁路全长多少公里？") and sure("number", "他的身高是多少？")
    assert sure("number", "贸易额增长了百分之多少？") and sure("number", "他今年几岁？")
    assert not sure("number", "该镇有多少人口？") and not sure("number", "项目总投资是多少？")
    assert not sure("number", "2024年的贸易额是多少？")  # no measure named
    for kind in ("person", "place", "date", "any"):
        assert not sure(kind, "谁在哪里何时做了什么？")


def test_a_country_is_a_country_name_never_a_person():
    # jieba tags 哈萨克斯坦 as a transliterated person name (nrt): it is no answer to 谁
    question = "吉尔吉斯斯坦总统是谁？"
    assert not holds(
        "person", "中亚五国也在积极实施国家发展战略，如哈萨克斯坦“光明之路”新经济政策。", question
    )
    assert holds("person", "扎帕罗夫总统出席了峰会。", question)
    # 哪个国家 wants a country named: cities and regions are not one, nor 各国 or 五国
    question = "撒马尔罕古城位于今天的哪个国家？"
    assert not holds("country", "撒马尔罕、布哈拉、梅尔夫等中亚古城都曾是东西方文明交汇的枢纽。", question)
    assert not holds("country", "中亚各国和中亚五国都派了代表。", question)
    assert holds("country", "撒马尔罕位于乌兹别克斯坦。", question)
    assert holds("country", "齐庄公派栾盈攻击晋国。", "齐庄公派栾盈攻击哪国？")  # one character and 国
    assert holds("place", "他来自哈萨克斯坦。", "他来自哪里？")  # a country is a place


def test_a_follow_up_that_only_names_what_changes_has_no_reading_of_its_own():
    from qa.question import elliptical, refers_back

    assert (
        elliptical("那2023年呢？")
        and elliptical("那乌兹别克斯坦呢？")
        and elliptical("what about Uzbekistan?")
    )
    assert not elliptical("那明天会下雨吗？")
    assert refers_back("它的秘书处设在哪里？") and refers_back("这份协议标志着什么？")
    assert not refers_back("那明天会下雨吗？")
    # a pronoun is no term an answer must hold
    assert [t.word for t in question_terms("它是什么时候召开的？")] == ["召开"]
    assert not elliptical("它的秘书处设在哪里？")
    assert not elliptical("那里附近有什么好玩的景点？")


@pytest.mark.parametrize(
    "question",
    [
        "它是什么时候召开的？",
        "这个数字和往年相比怎么样？",
        "该峰会在哪里举行？",
        "此次峰会的主题是什么？",
        "这一年的贸易额是多少？",
        "When was it held?",
        "What did they sign?",
        "Where is this railway?",
    ],
)
def test_a_word_pointing_back_is_found(question):
    from qa.question import refers_back

    assert refers_back(question)


@pytest.mark.parametrize(
    "question",
    [
        # written for this test: each used to count as pointing back, so a question on another
        # topic was read with the previous one and answered from what that one found
        "我应该什么时候去旅游？",  # 该 inside 应该
        "因此股市会涨吗？",  # 此 inside 因此
        "彼此之间的足球比赛谁赢了？",
        "此外还有什么好看的电影？",
        "这个周末适合去哪里爬山？",  # a time said from now
        "这个月的天气怎么样？",
        "Is it true that the weather will be good this weekend?",  # "it" standing for nothing
        "How long does it take to fly to Paris?",
        "What is the name of the river that flows through Paris?",  # "that" joining a clause
    ],
)
def test_a_word_inside_another_or_a_time_from_now_does_not_point_back(question):
    from qa.question import refers_back

    assert not refers_back(question)


@pytest.mark.parametrize(
    "kind, sentence, holds_it",
    [
        ("date", "Construction will begin in March 2027.", True),
        ("date", "Forecasters expect the heat to ease by Thursday.", True),
        ("date", "The line opened in 1998 after years of delay.", True),
        ("date", "Officials may decide later.", False),  # "may" is no month
        ("date", "The line is one of ten.", False),
        ("number", "A red alert went out for six provinces.", True),
        ("number", "Hundreds of people came.", True),
        ("number", "Many people came.", False),
    ],
)
def test_an_english_sentence_holds_a_date_or_a_number_in_words(kind, sentence, holds_it):
    assert holds(kind, sentence, "When?") is holds_it
