"""Sample-ratio mismatch: known answers, the threshold, and its false-alarm rate."""

import doctest
import math

import numpy as np
import pytest
from scipy import stats

from tastemaker.experiments.statistics import srm
from tastemaker.experiments.statistics.srm import srm_check


def test_52_48_on_20k_users_is_flagged():
    # chi-square = sum (o - e)^2 / e = 2 * 400^2 / 10000 = 32 on 1 df: p = chi2.sf(32, 1) ~ 1.5e-8.
    r = srm_check({"a": 10400, "b": 9600}, {"a": 0.5, "b": 0.5})
    assert math.isclose(r.statistic, 32.0, rel_tol=1e-12)
    assert math.isclose(r.p_value, stats.chi2.sf(32, 1), rel_tol=1e-9)
    assert r.flagged and r.expected == {"a": 10000.0, "b": 10000.0}


def test_a_small_wobble_and_uneven_shares_are_not_flagged():
    assert not srm_check({"a": 10050, "b": 9950}, {"a": 0.5, "b": 0.5}).flagged
    r = srm_check({"c": 5000, "t1": 2480, "t2": 2520}, {"c": 0.5, "t1": 0.25, "t2": 0.25})
    assert not r.flagged and r.expected["t1"] == 2500.0
    # shares need not add up to 1: they are normalised (the rest of traffic is outside the test)
    assert not srm_check({"a": 1000, "b": 1000}, {"a": 0.1, "b": 0.1}).flagged


def test_false_alarm_rate_of_a_true_split_is_the_threshold():
    rng = np.random.default_rng(5)
    flags = [srm_check({"a": int(a), "b": 20_000 - int(a)}, {"a": 0.5, "b": 0.5}).flagged
             for a in rng.binomial(20_000, 0.5, 5000)]
    assert np.mean(flags) <= 0.001 + 3 * math.sqrt(0.001 / 5000)


def test_mismatched_names_and_bad_shares_are_refused():
    with pytest.raises(ValueError, match="same variants"):
        srm_check({"a": 1, "b": 2}, {"a": 0.5, "c": 0.5})
    with pytest.raises(ValueError, match="share"):
        srm_check({"a": 1, "b": 2}, {"a": 0.5, "b": 0.0})
    assert not srm_check({"a": 0, "b": 0}, {"a": 0.5, "b": 0.5}).flagged


def test_docstring_examples():
    assert doctest.testmod(srm).failed == 0
