"""Two-proportion z-test against known answers."""

import doctest
import math

import pytest
from scipy import stats

from tastemaker.experiments.statistics import proportions
from tastemaker.experiments.statistics.proportions import two_proportion_ztest


def test_known_answer_150_of_1000_vs_120_of_1000():
    # R: prop.test(c(150, 120), c(1000, 1000), correct = FALSE) -> X-squared = 3.8536, p = 0.04964;
    # the pooled z is its square root. Wald CI and Katz log-ratio CI by the textbook formulas.
    e = two_proportion_ztest(120, 1000, 150, 1000)
    assert math.isclose(e.statistic ** 2, 3.8536, rel_tol=1e-4)
    assert math.isclose(e.p_value, 0.04964, abs_tol=5e-6)
    z = stats.norm.ppf(0.975)
    se = math.sqrt(0.12 * 0.88 / 1000 + 0.15 * 0.85 / 1000)
    assert math.isclose(e.difference, 0.03, abs_tol=1e-12)
    assert math.isclose(e.ci_low, 0.03 - z * se, rel_tol=1e-9)
    assert math.isclose(e.ci_high, 0.03 + z * se, rel_tol=1e-9)
    se_log = math.sqrt(1 / 150 - 1 / 1000 + 1 / 120 - 1 / 1000)
    assert math.isclose(e.relative, 0.25, rel_tol=1e-12)
    assert math.isclose(e.rel_ci_low, 1.25 * math.exp(-z * se_log) - 1, rel_tol=1e-9)
    assert math.isclose(e.rel_ci_high, 1.25 * math.exp(z * se_log) - 1, rel_tol=1e-9)
    assert e.significant and e.method == "two-proportion z-test"


def test_direction_and_alpha():
    worse = two_proportion_ztest(150, 1000, 120, 1000)
    assert worse.difference < 0 and worse.statistic < 0 and worse.ci_high < 0
    wide = two_proportion_ztest(120, 1000, 150, 1000, alpha=0.01)
    assert not wide.significant and wide.ci_low < 0


def test_degenerate_counts():
    none = two_proportion_ztest(0, 500, 0, 500)
    assert none.p_value == 1.0 and none.relative is None
    allc = two_proportion_ztest(500, 500, 500, 500)
    assert allc.p_value == 1.0 and allc.relative == 0.0


@pytest.mark.parametrize("args", [(5, 4, 1, 10), (-1, 10, 1, 10), (1, 0, 1, 10), (1, 10, 11, 10)])
def test_bad_counts_are_refused(args):
    with pytest.raises(ValueError, match="successes"):
        two_proportion_ztest(*args)


def test_docstring_examples():
    assert doctest.testmod(proportions).failed == 0
