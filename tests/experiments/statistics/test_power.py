"""Sample size and power against Cohen's tables and the normal-approximation formula."""

import doctest
import math

import pytest
from scipy import stats

from tastemaker.experiments.statistics import power
from tastemaker.experiments.statistics.power import (
    power_means,
    power_proportions,
    sample_size_means,
    sample_size_proportions,
)


def test_proportions_match_the_arcsine_formula():
    # n per arm = 2 ((z_{1-alpha/2} + z_{power}) / h)^2 with h = 2 asin sqrt(p1) - 2 asin sqrt(p0)
    # (Cohen 1988, ch. 6); its table gives n = 392 for h = 0.2 at alpha 0.05, power 0.8.
    p0, p1 = 0.05, 0.0525
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))
    want = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2
    n = sample_size_proportions(0.05, relative_lift=0.05)
    assert abs(n - want) < 1  # statsmodels also counts the far tail's tiny power: n is a hair smaller
    p_for_h02 = math.sin(math.asin(math.sqrt(0.5)) + 0.1) ** 2
    assert sample_size_proportions(0.5, absolute=p_for_h02 - 0.5) in (392, 393)


def test_power_at_the_size_is_the_target():
    n = sample_size_proportions(0.1, relative_lift=-0.1, power=0.9)
    assert power_proportions(0.1, n, relative_lift=-0.1) >= 0.9 > power_proportions(0.1, n - 5, relative_lift=-0.1)


def test_means_match_cohens_table():
    # Cohen (1988) table 2.4.1: d = 0.5, alpha 0.05 two-sided, power 0.8 -> 64 per group.
    assert sample_size_means(sd=2.0, mde=1.0) == 64
    assert power_means(sd=2.0, mde=1.0, n_control=64) >= 0.8 > power_means(sd=2.0, mde=1.0, n_control=60)
    assert sample_size_means(sd=1.0, mde=0.5, ratio=2.0) < 64  # more treatment users, fewer control


@pytest.mark.parametrize("kwargs,match", [
    ({"base_rate": 1.2, "relative_lift": 0.1}, "base_rate"),
    ({"base_rate": 0.5, "relative_lift": 0.1, "absolute": 0.1}, "exactly one"),
    ({"base_rate": 0.9, "relative_lift": 0.2}, "outside"),
    ({"base_rate": 0.5, "relative_lift": 0.1, "alpha": 1.5}, "alpha"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_size_proportions(**kwargs)


def test_docstring_examples():
    assert doctest.testmod(power).failed == 0
