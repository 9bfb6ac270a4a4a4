"""Reciprocal-rank fusion is a pure, stable function."""

from __future__ import annotations

import pytest

from qa.fuse import reciprocal_rank_fusion


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
