"""Welch's t-test against known answers."""

import doctest
import math

import numpy as np
import pytest

from tastemaker.experiments.statistics import welch
from tastemaker.experiments.statistics.welch import welch_from_stats, welch_ttest


def test_known_answer_r_t_test():
    # R: t.test(c(2, 3, 5, 7, 8), c(1, 2, 3, 4)) (Welch by default):
    # t = 1.9081, df = 6.1347, p-value = 0.1039, 95% CI -0.688993 5.688993.
    e = welch_ttest([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 5.0, 7.0, 8.0])
    assert math.isclose(e.statistic, 1.9081, abs_tol=1e-4)
    assert "df=6.1" in e.method
    assert math.isclose(e.p_value, 0.1039, abs_tol=1e-4)
    assert math.isclose(e.ci_low, -0.688993, abs_tol=1e-6)
    assert math.isclose(e.ci_high, 5.688993, abs_tol=1e-6)
    assert e.difference == 2.5 and e.relative == 5.0 / 2.5 - 1


def test_from_stats_equals_from_samples():
    rng = np.random.default_rng(3)
    c, t = rng.exponential(10, 500), rng.exponential(11, 700)
    a = welch_ttest(c, t)
    b = welch_from_stats(c.mean(), c.var(ddof=1), c.size, t.mean(), t.var(ddof=1), t.size)
    assert math.isclose(a.p_value, b.p_value, rel_tol=1e-12) and math.isclose(a.ci_low, b.ci_low, rel_tol=1e-12)


def test_constant_arms():
    same = welch_ttest([2.0, 2.0], [2.0, 2.0, 2.0])
    assert same.p_value == 1.0 and same.ci_low == same.ci_high == 0.0
    apart = welch_ttest([2.0, 2.0], [3.0, 3.0])
    assert apart.p_value == 0.0 and apart.difference == 1.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 2 users"):
        welch_ttest([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        welch_ttest([1.0, float("nan")], [1.0, 2.0])


def test_docstring_examples():
    assert doctest.testmod(welch).failed == 0
