"""How questions are answered from an index: fusion weights, limits and the abstention rule.

The index stores these as an opaque section of its manifest (`IndexSettings.retrieval`);
only qa reads it. An empty section means the defaults below.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

MAX_TOP_K = 50  # passages one question may ask for (chat, REST API and CLI)
ABSTAIN_INPUTS = 8  # features of the abstention rule, see qa.abstain.rule_inputs
RULE_FIELDS = ("abstain_weights", "abstain_threshold", "calibration")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalSettings:
    """How questions are answered from this index: fusion weights and the abstention rule.

    The abstention rule is a logistic score over evidence features (see qa.abstain); its
    weights are fitted by `python -m qa calibrate`, which records what data it used.
    """

    # Keyword evidence counts double in fusion: on the CMRC trial set this gave recall@1
    # 0.953, against 0.941 with equal weights, 0.923 dense only, 0.940 keyword only.
    dense_weight: float = 1.0
    keyword_weight: float = 2.0
    rrf_k: int = 60
    candidates: int = 50
    max_question_chars: int = 1000
    # Fitted by `python -m qa calibrate` on the sample index (eval/sample_answerable.jsonl,
    # eval/sample_unanswerable.jsonl) together with the CMRC trial index (its 1,000 questions,
    # eval/cmrc_english*.jsonl, eval/cmrc_unanswerable.jsonl, eval/cmrc_near_unanswerable.jsonl),
    # at most 1.5 % false abstentions (README, "Abstention").
    abstain_weights: tuple[float, ...] = (-3.023, 9.774, 0.0, 4.152, 0.658, -1.762, -1.662, 2.292, 0.45)
    abstain_threshold: float = 0.0859
    calibration: str = (
        "defaults fitted on the sample and CMRC 2018 trial indexes: 1146 answerable / 250 unanswerable "
        "questions; false abstentions 0.014, abstention recall 0.316"
    )

    def __post_init__(self) -> None:
        if self.dense_weight < 0 or self.keyword_weight < 0 or self.dense_weight + self.keyword_weight == 0:
            raise ValueError("dense_weight and keyword_weight must be >= 0 and not both 0")
        if self.candidates < 1:
            raise ValueError(f"candidates={self.candidates} must be at least 1")
        if len(self.abstain_weights) != ABSTAIN_INPUTS + 1:
            raise ValueError(
                f"abstain_weights has {len(self.abstain_weights)} values; the abstention rule takes a bias and "
                f"{ABSTAIN_INPUTS} weights: re-run `python -m qa calibrate --write` or rebuild the index"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready section stored in the index manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RetrievalSettings:
        """Read the manifest section (unknown keys ignored, lists become tuples; empty = defaults)."""
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in (data or {}).items() if k in names
        }
        weights = values.get("abstain_weights")
        if weights is not None and len(weights) != ABSTAIN_INPUTS + 1:
            # a rule fitted for another version of the evidence: it cannot be applied, the defaults can
            log.warning(
                "the index's abstention rule has %d weights, this version takes %d: using the default rule "
                "(re-run `python -m qa calibrate --write` to fit one for this index)",
                len(weights),
                ABSTAIN_INPUTS + 1,
            )
            values = {k: v for k, v in values.items() if k not in RULE_FIELDS}
        return cls(**values)
