"""Reciprocal-rank fusion: a pure function on ranked lists."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[tuple[K, float]]:
    """Fuse ranked lists: score(d) = Σ weight_i / (k + rank_i(d)), ranks from 1.

    Ties are broken by first appearance across the lists, so the output is stable for
    identical input.

    Raises:
        ValueError: if weights and rankings differ in length, or k < 1.
    """
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings; give one weight per ranking")
    if k < 1:
        raise ValueError(f"k={k} must be at least 1 (60 is the usual value)")
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    order = {key: i for i, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))


def keep_leaders(
    fused: Sequence[tuple[K, float]], leaders: Sequence[K], within: int, most: int = 1
) -> list[tuple[K, float]]:
    """Keep `leaders` (each retriever's best hit, the most trusted retriever's first) among the
    first `within` entries of `fused`, moving at most `most` of them.

    A leader that fusion ranked lower is moved to the end of that window, in the order given,
    and the entries it passes move down one place. It takes the score of the entry whose place
    it takes, so the scores stay in order. When both lists are long, RRF ranks a chunk that
    both rank fairly high above one that a single list ranks first. Among a million chunks,
    where the two lists share little, a passage that keyword search alone (or dense search
    alone) ranks first was then often lost from the top 5. Each leader moved pushes one fused
    entry out of the window, so by default only one is moved.
    """
    out = list(fused)
    place = {key: i for i, (key, _) in enumerate(out)}
    missing = [key for key in dict.fromkeys(leaders) if place.get(key, -1) >= within][:most]
    if not missing or len(missing) > within:
        return out
    moved = {key: out[place[key]][1] for key in missing}
    out = [item for item in out if item[0] not in moved]
    start = within - len(missing)
    for offset, key in enumerate(missing):
        at = start + offset
        out.insert(at, (key, out[at][1] if at < len(out) else moved[key]))
    return out
