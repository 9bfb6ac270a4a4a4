"""Fit the abstention rule on data: a logistic model over evidence features.

Answerable questions are positives, unanswerable ones negatives. The threshold is set so
that at most `max_false_abstention` of the answerable questions abstain; what that costs in
missed abstentions is reported, on the fitting data and on a held-out half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.abstain import answerable_probability
from qa.bot import Bot
from qa.evaluate import EvalItem


@dataclass(frozen=True)
class Calibration:
    """A fitted rule and how it did."""

    weights: tuple[float, ...]
    threshold: float
    answerable: int
    unanswerable: int
    false_abstention_rate: float
    abstention_recall: float

    def describe(self, source: str) -> str:
        """One line for the index manifest and the closing report."""
        return (
            f"fitted on {source}: {self.answerable} answerable / {self.unanswerable} unanswerable questions; "
            f"false abstentions {self.false_abstention_rate:.3f}, abstention recall {self.abstention_recall:.3f}"
        )


def features(bot: Bot, items: Sequence[EvalItem], top_k: int = 5) -> np.ndarray:
    """The abstention rule's inputs for each item, computed exactly as `bot.ask` computes them."""
    rows = []
    for item in items:
        question = bot.check_question(item.question, top_k)
        rows.append(bot.rule_inputs(bot.gather(question, list(item.history), top_k)))
    return np.asarray(rows, dtype=np.float64)


# The sign each feature's weight must have (see qa.abstain.rule_inputs): evidence for an answer
# (+1), evidence against one (-1), or either (0, the script mismatch).
SIGNS = (1, 1, 1, 0, -1, -1, 1, 1)


def fit_logistic(x: np.ndarray, y: np.ndarray, signs: Sequence[int] = SIGNS) -> np.ndarray:
    """Logistic regression whose weights keep the sign their evidence has; returns [bias, w…].

    More evidence for an answer must never make abstaining more likely, and evidence against
    one never less: a weight that comes out with the wrong sign (too little data of that
    kind, e.g. few cross-lingual questions) is fixed at 0 and the rest refitted.
    """
    active = list(range(x.shape[1]))
    while True:
        weights = np.zeros(x.shape[1] + 1)
        fitted = _fit_unconstrained(x[:, active], y)
        weights[0], weights[[i + 1 for i in active]] = fitted[0], fitted[1:]
        wrong = [i for i in active if signs[i] * weights[i + 1] < 0]
        if not wrong:
            return weights
        active.remove(wrong[0])


def _fit_unconstrained(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method on standardised features; returns [bias, w…] in raw units."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    # weigh the classes equally: there are far more answerable questions
    sample = np.where(y == 1, 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum()))
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -50, 50)))
        grad = z.T @ (sample * (p - y)) + l2 * np.r_[0, w[1:]]
        hess = (z * (sample * p * (1 - p))[:, None]).T @ z + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hess, grad)
    raw = w[1:] / std
    return np.r_[w[0] - (raw * mean).sum(), raw]


def choose_threshold(p_answerable: np.ndarray, max_false_abstention: float) -> float:
    """The highest threshold at which at most `max_false_abstention` of answerable questions abstain."""
    allowed = int(np.floor(max_false_abstention * len(p_answerable)))
    ordered = np.sort(p_answerable)
    return float(ordered[allowed] - 1e-9) if len(ordered) else 0.5


def calibrate(x: np.ndarray, y: np.ndarray, max_false_abstention: float = 0.02) -> Calibration:
    """Fit weights and threshold on features `x` with labels `y` (1 = answerable)."""
    if y.sum() == 0 or (1 - y).sum() == 0:
        raise ValueError("calibration needs both answerable and unanswerable questions")
    weights = fit_logistic(x, y)
    p = answerable_probability(weights, x)
    threshold = choose_threshold(p[y == 1], max_false_abstention)
    return evaluate_rule(tuple(float(v) for v in weights), threshold, x, y)


def evaluate_rule(weights: tuple[float, ...], threshold: float, x: np.ndarray, y: np.ndarray) -> Calibration:
    """How a rule does on labelled features."""
    abstain = answerable_probability(weights, x) < threshold
    return Calibration(
        weights=weights,
        threshold=threshold,
        answerable=int(y.sum()),
        unanswerable=int((1 - y).sum()),
        false_abstention_rate=float(abstain[y == 1].mean()),
        abstention_recall=float(abstain[y == 0].mean()),
    )
