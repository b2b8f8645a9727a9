"""CUPED: the right theta, the variance it removes, and an unbiased effect."""

import doctest

import numpy as np
import pytest

from tastemaker.experiments.statistics import cuped
from tastemaker.experiments.statistics.cuped import cuped_adjust
from tastemaker.experiments.statistics.welch import welch_ttest


def _data(n=40_000, effect=1.0, seed=0):
    rng = np.random.default_rng(seed)
    arm = np.arange(n) % 2
    x = rng.normal(5.0, 2.0, n)  # pre-period
    y = 0.8 * x + rng.normal(0.0, 1.6, n) + effect * arm  # rho^2 = 2.56 / (2.56 + 2.56) = 0.5
    return x, y, arm


def test_theta_is_the_within_group_slope():
    x, y, arm = _data()
    r = cuped_adjust(y, x, groups=arm)
    slopes = [np.polyfit(x[arm == g], y[arm == g], 1)[0] for g in (0, 1)]
    assert min(slopes) - 1e-9 <= r.theta[0] <= max(slopes) + 1e-9
    assert abs(r.theta[0] - 0.8) < 0.02  # sampling sd of the slope ~ 1.6 / (2 sqrt(n)) = 0.004


def test_variance_reduction_is_rho_squared_and_the_effect_stays_unbiased():
    x, y, arm = _data()
    r = cuped_adjust(y, x, groups=arm)
    assert abs(r.variance_reduction - 0.5) < 0.02  # rho^2 = 0.5 by construction
    raw = welch_ttest(y[arm == 0], y[arm == 1])
    adj = welch_ttest(r.adjusted[arm == 0], r.adjusted[arm == 1])
    se = lambda e: (e.ci_high - e.ci_low) / 2  # noqa: E731
    assert abs(adj.difference - 1.0) < 4 * se(adj) / 1.96
    assert se(adj) < 0.75 * se(raw)  # sqrt(1 - 0.5) = 0.71 of the width


def test_uncorrelated_covariate_removes_nothing_and_constant_gives_zero_theta():
    rng = np.random.default_rng(1)
    y = rng.normal(size=5000)
    assert abs(cuped_adjust(y, rng.normal(size=5000)).variance_reduction) < 0.01
    r = cuped_adjust(y, np.full(5000, 3.0))
    assert r.theta[0] == 0.0 and r.variance_reduction == 0.0 and np.allclose(r.adjusted, y)


def test_two_covariates_are_solved_together():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20_000, 2))
    y = 2.0 * x[:, 0] - 1.0 * x[:, 1] + rng.normal(size=20_000)
    r = cuped_adjust(y, x)
    assert np.allclose(r.theta, [2.0, -1.0], atol=0.03)
    assert abs(r.variance_reduction - 5 / 6) < 0.01


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="n users"):
        cuped_adjust([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        cuped_adjust([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])


def test_docstring_examples():
    assert doctest.testmod(cuped).failed == 0
