"""What kind of thing a question asks for, and whether a sentence holds one.

多少/几 ask for a number (in the unit of what they measure, when they say: 全长多少公里 wants a
length), 哪一年 for a year, 何时 for a date, 哪个国家 for a country, 哪里 for a place, 谁 for a
person (and the English question words likewise). A sentence that holds nothing of the kind
asked for is weak evidence of an answer: "吉尔吉斯斯坦总统是谁？" is not answered by a
sentence that names no person. The check is deliberately lenient (a number or a name
anywhere in the sentence counts); it is one input of the abstention rule, not a verdict.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

from index.text import latin_share, simplified

Expect = Literal["year", "number", "date", "country", "place", "person", "any"]
# The kinds whose check is sure enough that an answer sentence without one does not answer,
# whatever else it covers: a year is written in digits or numerals with 年 (or 次年, 元年…), a
# country is one of CLDR's names or X国. Persons and places rest on jieba's tags and numbers
# may be written in words, so for those a missing kind only weighs in the rule.
SURE_KINDS: frozenset[Expect] = frozenset({"year", "country"})

TERRITORIES = Path(__file__).resolve().parent / "data" / "territories.txt"

_ASKS: tuple[tuple[Expect, re.Pattern[str]], ...] = (
    # a year is asked for, not any date: "6月17日" does not say which year something was built
    ("year", re.compile(r"哪一?年|何年|\bwhat year\b|\bwhich year\b|\bin what year\b", re.IGNORECASE)),
    (
        "date",
        re.compile(
            r"哪一?年|哪[一几]?天|哪一?月|何时|什么时候|什么时间|几月|几号|几日|哪个月|哪段时间|多少年前|\bwhen\b|\bwhat (?:year|date|day|time)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "number",
        re.compile(
            r"多少|(?<!哪)几[个岁年次种条位天名家项座亿万千百%]|多大|多长|多高|多远|多重|多久|百分之几|\bhow (?:many|much|long|far|big|large|old|tall|high)\b|\bwhat (?:percentage|number|amount)\b",
            re.IGNORECASE,
        ),
    ),
    ("person", re.compile(r"谁|哪位|哪些人|什么人|\bwho\b|\bwhom\b", re.IGNORECASE)),
    (
        "country",
        re.compile(
            r"哪一?个?国(?!际|内|外|务|民|企|有|营|产)|什么国家|\b(?:which|what) (?:country|nation)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "place",
        re.compile(
            r"哪里|哪儿|在哪|何处|哪个(?:国家|城市|地方|省|地区)|哪座城市|哪国|\bwhere\b|\bwhich (?:country|city|place)\b",
            re.IGNORECASE,
        ),
    ),
)

# English sentences (a corpus of English articles): numbers in words, and dates by month, weekday,
# year or a day said from now
_EN_NUMBER = (
    r"|(?i:\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|twenty|thirty|forty"
    r"|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|trillions?)\b)"
)
_MONTHS = "january|february|march|april|june|july|august|september|october|november|december"  # not may
_EN_DATE = (
    rf"|(?i:\b(?:{_MONTHS})\b|\b(?:may|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?\s*\d|\d{{1,2}}\s+may\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow|yesterday|tonight)\b"
    r"|\b(?:next|last|this)\s+(?:week|month|year)\b"
    r"|\b(?:in|since|by|until|from|before|after)\s+(?:early\s+|late\s+|mid-?)?(?:1[5-9]|20)\d{2}\b"
    r"|\b\d{1,2}(?:[:.]\d{2})?\s*(?:a\.m\.|p\.m\.|am\b|pm\b)|\b(?:noon|midnight)\b)"
)
_NUMBER = re.compile(
    # an amount in Chinese numerals: with a classifier (三个), or of tens and more (八万两 of silver)
    r"\d+(?:[.,]\d+)*|[一二三四五六七八九十百千万亿两半几]+[个位名项次年岁种条家座倍成%]"
    r"|[一二三四五六七八九两几]+[十百千万亿]|百分之|[%％]" + _EN_NUMBER
)
_DATE = re.compile(
    r"\d{2,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[一二三四五六七八九十〇零]{2,4}年|世纪|年代|[春夏秋冬]季|[去今明前]年|此前|当天|同年"
    + _EN_DATE
)
_YEAR = re.compile(
    r"\d{2,4}\s*年|[一二三四五六七八九十〇零]{2,4}年|\d{4}|[去今明前]年|同年|当年|翌年|次年|世纪|年代"
    r"|元年|[\u4e00-\u9fff][一二三四五六七八九十]{1,3}年(?!级)"  # 贞观元年, 康熙十年
)
# What a number question measures, when it says (the measured thing or a unit next to its
# question word), and the units an answer must give it in: "全长多少公里？" is not answered by
# "6月16日", nor "增长了百分之多少？" by "948亿美元".
_AMOUNT = r"(?:\d[\d,.]*|[一二三四五六七八九十百千万亿两零〇几半]+)\s*(?:多|余|几)?\s*(?:万|亿|千|百)?\s*"
# The last field says whether the measure's amounts always carry their unit (physical
# quantities: 182厘米, 75公斤), so that a sentence without one cannot be the answer; money and
# head counts often go without ("总投资50亿", "人口约50万").
_MEASURES: tuple[tuple[re.Pattern[str], re.Pattern[str], bool], ...] = tuple(
    (re.compile(cue, re.IGNORECASE), re.compile(f"{_AMOUNT}(?:{units})", re.IGNORECASE), sure)
    for cue, units, sure in (
        (
            r"多少(?:公里|千米|米|厘米|毫米|英里)|多长(?!时间)|多远|多深|多宽|长度|全长|距离|海拔|身高|\bhow (?:far|deep|wide)\b|\bhow long is\b|\bkilomet(?:er|re)s?\b|\bmiles\b|\bmet(?:er|re)s\b",
            r"公里|千米|米|厘米|毫米|公分|英里|英尺|呎|英寸|海里|光年|km|cm|mm|m\b|miles?\b|feet\b|ft\b",
            True,
        ),
        (
            r"多少钱|斥资|花费|造价|售价|票价|价格|金额|总投资|投资(?:了|额|是)*多少|\bhow much (?:money|did \w+ cost|does \w+ cost)|\bwhat (?:is|was) the (?:price|cost)\b|\binvest|\bdollars\b|\byuan\b",
            r"元|美元|欧元|英镑|日元|卢布|港元|港币|镑|法郎|马克|美金|人民币|[$￥€£]|dollars?\b|yuan\b",
            False,
        ),
        (
            r"百分之多少|百分之几|百分比|多少%|增长率|占比|\bpercent",
            r"%|％|百分之|个?百分点|成|percent\b",
            True,
        ),
        (r"多少度|气温|温度|\btemperature\b|\bdegrees\b", r"度|摄氏度|华氏度|℃|℉|°", True),
        (
            r"多重|体重|重量|多少(?:吨|公斤|千克|克|斤)|\bhow heavy\b|\bweigh|\bkilograms?\b|\btonn?es\b",
            r"吨|公斤|千克|克|斤|磅|kg\b",
            True,
        ),
        (r"面积|多少平方|\barea\b|\bsquare\b|\bhectares\b", r"平方|公顷|亩|km²|km2", True),
        (
            r"人口|多少人|几个人|几人|人数|多少名|\bhow many (?:people|residents|inhabitants)\b|\bpopulation\b",
            r"人|名|位",
            False,
        ),
        (r"几岁|多少岁|年龄|多大岁数|\bhow old\b|\byears old\b", r"岁", True),
    )
)
_QUOTED = re.compile(r"“[^”]*”|《[^》]*》|「[^」]*」|『[^』]*』|\"[^\"]*\"")
_PLACE_SUFFIX = re.compile(
    r"[\u4e00-\u9fff]{1,8}(?:国|省|市|县|州|城|镇|村|区|岛|山|河|湖|海|洋|洲|湾|港|宫|馆|厅|院|站|斯坦|大学|广场)"
)
_PERSON_HINT = re.compile(
    r"[\u4e00-\u9fff]{1,4}(?:主席|总统|总理|部长|先生|女士|教授|博士|院士|国王|皇帝|将军|导演|作者|编剧|记者|所长|校长|市长|省长|首相|总书记|委员长)|[A-Z][a-z]+ [A-Z][a-z]+"
)


def expected_kind(question: str) -> Expect:
    """The kind of answer the question asks for ("any" when its question word names none).

    In English only the first question word counts, with the few words after it: "How much
    silver did he donate when the war broke out?" asks for an amount, not a date, and "What
    is the name of the man who…" for a name, not a person."""
    question = simplified(question)  # 幾個 asks for a number as 几个 does
    if latin_share(question) >= 0.5 and (first := _WH.search(question)):
        question = " ".join(question[first.start() :].split()[:WH_WINDOW])
    for kind, pattern in _ASKS:
        if pattern.search(question):
            return kind
    return "any"


# 晋国, 大宛国: a country named by its one-character name and 国; not 各国, 两国, 本国, 全国…
_COUNTRY = re.compile(
    r"(?![各两全本外该此诸多邻大强小一二三四五六七八九十几数])[\u4e00-\u9fff]国(?![家际内外务民企有营产])"
)
_WH = re.compile(r"\b(?:who|whom|whose|when|where|what|which|how)\b", re.IGNORECASE)
WH_WINDOW = 4  # words from an English question's first question word that tell what it asks
_PLACE_TAGS = frozenset({"ns"})
_PERSON_TAGS = frozenset({"nr", "nrfg", "nrt"})


@lru_cache(maxsize=100_000)
def holds(kind: Expect, sentence: str, question: str = "") -> bool:
    """True when the sentence holds something of the kind asked for (always for "any") that
    the question does not already name: "撒马尔罕位于哪个国家？" is not answered by a sentence
    whose only place is 撒马尔罕, nor "2023年的贸易额是多少？" by one whose only number is 2023."""
    if kind == "any":
        return True
    sentence, question = simplified(sentence), simplified(question)  # 國, 縣 end places as 国, 县 do
    if kind in ("number", "date", "year"):
        # a number inside quotation or title marks is part of a name (“黄金三十年”, 《2030年
        # 前国家发展战略》), not an amount or a date the sentence states
        bare = _QUOTED.sub(" ", sentence)
        if kind == "number" and (measure := _measure(question)) is not None:
            return any(m.group() not in question for m in measure[1].finditer(bare))
        pattern = {"number": _NUMBER, "date": _DATE, "year": _YEAR}[kind]
        return any(m.group() not in question for m in pattern.finditer(bare))
    if kind == "country":
        names = [name for name in territories() if name in sentence]
        names += [m.group() for m in _COUNTRY.finditer(sentence)]
        return any(name not in question for name in names)
    tags, hint = (_PLACE_TAGS, _PLACE_SUFFIX) if kind == "place" else (_PERSON_TAGS, _PERSON_HINT)
    names = [word for word, flag in _pos_words(sentence) if flag in tags]
    names += [m.group() for m in hint.finditer(sentence)]
    if kind == "place":
        names += [name for name in territories() if name in sentence]
    else:  # jieba tags some countries as transliterated person names (哈萨克斯坦: nrt)
        names = [name for name in names if name not in territories()]
    return any(name not in question for name in names)


def _measure(question: str) -> tuple[re.Pattern[str], re.Pattern[str], bool] | None:
    """The measure the question asks in (None when it names none): its cue, an amount in its
    units, and whether its amounts always carry their unit."""
    return next((measure for measure in _MEASURES if measure[0].search(question)), None)


def sure(kind: Expect, question: str) -> bool:
    """True when a sentence without the kind asked for cannot answer the question: a year, a
    country, or an amount of a physical measure (a length, a weight, an area, a temperature, an
    age, a percentage), which is always written with its unit."""
    if kind in SURE_KINDS:
        return True
    measure = _measure(simplified(question)) if kind == "number" else None
    return measure is not None and measure[2]


@cache
def territories() -> frozenset[str]:
    """Country and territory names (CLDR, simplified Chinese): places, never persons."""
    lines = TERRITORIES.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=100_000)
def _pos_words(sentence: str) -> tuple[tuple[str, str], ...]:
    import jieba.posseg

    return tuple((pair.word, pair.flag) for pair in jieba.posseg.lcut(sentence))
