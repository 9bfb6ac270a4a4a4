"""Deciding whether the passages answer the question: evidence, background, the logistic rule.

The rule is a small logistic model over evidence features, fitted on labelled questions by
`python -m qa calibrate` (qa.calibrate) and stored in the index settings. The same function
scores a question at answer time and during the fit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.text import latin_share
from qa.answer import ScoredSentence
from qa.passages import Candidate

BACKGROUND_QUESTIONS = Path(__file__).resolve().parent / "data" / "background_questions.jsonl"


@dataclass(frozen=True)
class Evidence:
    """What the abstention rule weighs for one question."""

    cosine: float  # best cosine of a returned passage
    coverage: float  # best keyword coverage of the question by one sentence
    mismatch: float  # 1 when the question's script differs from the passage's (English on Chinese)
    script: str  # "latin" or "cjk": which background the question is compared with


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


def evidence(
    question: str, top: Sequence[Candidate], texts: Sequence[str], scored: Sequence[ScoredSentence]
) -> Evidence:
    """Collect the evidence for a question from its returned passages."""
    script = "latin" if latin_share(question) >= 0.5 else "cjk"
    if not top:
        return Evidence(0.0, 0.0, 0.0, script)
    cosine = max(c.relevance for c in top)
    coverage = max((s.coverage for s in scored), default=0.0)
    mismatch = abs(latin_share(question) - latin_share(texts[0]))
    return Evidence(cosine, coverage, mismatch, script)


def rule_inputs(ev: Evidence, background: Background) -> tuple[float, float, float, float]:
    """The rule's inputs: cosine above background (same-script and cross-script apart),
    coverage above background, and the script mismatch."""
    above = ev.cosine - background.cosine.get(ev.script, 0.0)
    coverage = ev.coverage - background.coverage.get(ev.script, 0.0)
    same = 1 - ev.mismatch  # keyword overlap means nothing across scripts
    return (above * same, above * ev.mismatch, coverage * same, ev.mismatch)


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
