"""Linear Thompson: the shared checks, propensities against the exact normal integral."""

import math

import numpy as np
from scipy import integrate, stats

from tastemaker.experiments.bandits import LinearThompson

from .checks import parametrize_checks


@parametrize_checks()
def test_check_suite(check):
    check(lambda: LinearThompson(n_features=3, scale=0.5, n_draws=2000, seed=2))


def test_propensities_match_the_integral_over_independent_normals():
    n_draws = 20_000
    rng = np.random.default_rng(4)
    policy = LinearThompson(n_features=2, scale=0.8, n_draws=n_draws, seed=5)
    for arm, rate in (("a", 0.6), ("b", 0.5), ("c", 0.3)):
        for _ in range(8):
            x = np.array([1.0, rng.normal()])
            policy.update(arm, float(rng.random() < rate), x)
    x = np.array([1.0, 0.3])
    idx = np.array([policy.arms.index(a) for a in "abc"])
    mean, width = policy.mean_and_width(idx, x)
    sd = 0.8 * width

    def win(i):
        others = [j for j in range(3) if j != i]
        f = lambda s: stats.norm.pdf(s, mean[i], sd[i]) * math.prod(  # noqa: E731
            stats.norm.cdf(s, mean[j], sd[j]) for j in others)
        return integrate.quad(f, mean[i] - 12 * sd[i], mean[i] + 12 * sd[i], limit=200)[0]

    exact = np.array([win(i) for i in range(3)])
    estimate = policy.probabilities(["a", "b", "c"], x)
    se = np.sqrt(exact * (1 - exact) / n_draws)
    assert np.all(np.abs(estimate - exact) <= 4 * se + 1e-12)


def test_same_state_and_context_give_the_same_estimate():
    a, b = LinearThompson(n_features=2, seed=1), LinearThompson(n_features=2, seed=1)
    for p in (a, b):
        p.update("u", 1.0, np.array([1.0, 2.0]))
    x = np.array([1.0, -0.5])
    np.testing.assert_array_equal(a.probabilities(["u", "v"], x), b.probabilities(["u", "v"], x))


def test_doctest():
    import doctest

    from tastemaker.experiments.bandits import linear_thompson
    assert doctest.testmod(linear_thompson).failed == 0
