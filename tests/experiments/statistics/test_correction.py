"""Holm, Bonferroni and Benjamini-Hochberg adjusted p-values against hand computations."""

import doctest

import pytest

from tastemaker.experiments.statistics import correction
from tastemaker.experiments.statistics.correction import adjust_pvalues


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04) (Holm 1979)
    assert adjust_pvalues([0.01, 0.04, 0.03], "holm") == pytest.approx([0.03, 0.06, 0.06])


def test_bh_by_hand():
    # m = 4, sorted 0.005, 0.01, 0.03, 0.04 -> p * m / rank, then a running minimum from the top
    assert adjust_pvalues([0.01, 0.04, 0.03, 0.005], "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_bonferroni_caps_at_one_and_none_keeps():
    assert adjust_pvalues([0.2, 0.6], "bonferroni") == pytest.approx([0.4, 1.0])
    assert adjust_pvalues([0.2, 0.6], "none") == [0.2, 0.6]
    assert adjust_pvalues([0.2], "holm") == [0.2] and adjust_pvalues([], "holm") == []


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_pvalues([0.1], "sidak-ish")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust_pvalues([0.1, 1.2])


def test_docstring_examples():
    assert doctest.testmod(correction).failed == 0
