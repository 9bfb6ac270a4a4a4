"""Reciprocal-rank fusion is a pure, stable function."""

from __future__ import annotations

import pytest

from qa.fuse import keep_leaders, reciprocal_rank_fusion


def test_items_found_by_both_lists_rank_first():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]])
    assert [k for k, _ in fused][:2] == ["a", "c"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_weights_shift_the_order():
    dense, keyword = ["x", "y"], ["y", "x"]
    assert reciprocal_rank_fusion([dense, keyword], [2.0, 1.0])[0][0] == "x"
    assert reciprocal_rank_fusion([dense, keyword], [1.0, 2.0])[0][0] == "y"


def test_ties_keep_first_appearance_so_output_is_stable():
    assert [k for k, _ in reciprocal_rank_fusion([["p"], ["q"]])] == ["p", "q"]


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([["a"]], [1.0, 2.0])
    with pytest.raises(ValueError, match="k=0"):
        reciprocal_rank_fusion([["a"]], k=0)


def test_a_list_s_best_hit_stays_in_the_window_that_fusion_ranked_it_out_of():
    # "z" is first in the keyword list only; the chunks both lists rank pass it
    dense = ["e", "f", "a", "b", "c", "d"]
    keyword = ["z", "b", "c", "d", "a", "e", "f"]
    fused = reciprocal_rank_fusion([dense, keyword], k=60)
    assert [key for key, _ in fused].index("z") >= 3
    kept = keep_leaders(fused, ["e", "z"], within=3)
    keys = [key for key, _ in kept]
    assert "z" in keys[:3] and "e" in keys[:3] and sorted(keys) == sorted(key for key, _ in fused)
    scores = [score for _, score in kept]
    assert scores == sorted(scores, reverse=True)  # still in order: a moved key takes its new place's score
    assert keep_leaders(fused, [fused[0][0]], within=3) == fused  # already in the window: unchanged
    assert keep_leaders(fused, ["e", "z"], within=1, most=2) == fused  # more leaders than places: unchanged
    assert [key for key, _ in keep_leaders(fused, ["d", "z"], within=3)][:3] == [
        "b",
        "e",
        "d",
    ]  # one moved at most
    assert keep_leaders(fused, ["unknown"], within=3) == fused
