"""Beta-Bernoulli Thompson: the shared checks, posterior counts, propensities against quadrature."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from tastemaker.experiments.bandits import ThompsonSampling
from tastemaker.experiments.bandits import thompson
from tastemaker.experiments.bandits.montecarlo import max_standard_error

from .checks import parametrize_checks


@parametrize_checks()
def test_check_suite(check):
    check(lambda: ThompsonSampling(n_draws=2000, seed=1))


def exact_win_probabilities(alpha, beta):
    """P(arm i's Beta draw is the largest) = integral of f_i(x) prod_{j != i} F_j(x) dx."""
    out = []
    for i in range(len(alpha)):
        def integrand(x, i=i):
            others = [stats.beta.cdf(x, alpha[j], beta[j]) for j in range(len(alpha)) if j != i]
            return stats.beta.pdf(x, alpha[i], beta[i]) * math.prod(others)
        out.append(integrate.quad(integrand, 0, 1, limit=200)[0])
    return np.array(out)


def test_posterior_counts_follow_rewards():
    policy = ThompsonSampling(alpha0=2, beta0=3)
    for r in (1.0, 0.0, 1.0, 0.25):
        policy.update("a", r)
    i = policy.arms.index("a")
    assert policy.alpha[i] == pytest.approx(2 + 2.25) and policy.beta[i] == pytest.approx(3 + 1.75)
    assert policy.posterior_mean("a") == pytest.approx(4.25 / 9)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        policy.update("a", 2.0)


def test_monte_carlo_propensities_match_the_integral():
    n_draws = 20_000
    policy = ThompsonSampling(n_draws=n_draws, seed=3)
    for arm, (wins, losses) in {"a": (12, 30), "b": (9, 20), "c": (3, 12)}.items():
        for _ in range(wins):
            policy.update(arm, 1.0)
        for _ in range(losses):
            policy.update(arm, 0.0)
    idx = [policy.arms.index(a) for a in "abc"]
    exact = exact_win_probabilities(policy.alpha[idx], policy.beta[idx])
    assert exact.sum() == pytest.approx(1.0, abs=1e-6)
    estimate = policy.probabilities(["a", "b", "c"])
    # binomial proportions: 4 standard errors of the documented estimator
    se = np.sqrt(exact * (1 - exact) / n_draws)
    assert np.all(np.abs(estimate - exact) <= 4 * se + 1e-12)
    assert np.all(se <= max_standard_error(n_draws))


def test_estimate_is_cached_until_the_next_update():
    policy = ThompsonSampling(seed=0)
    policy.update("a", 1.0)
    first = policy.probabilities(["a", "b"])
    assert policy.probabilities(["a", "b"]) is first
    policy.update("b", 1.0)
    assert policy.probabilities(["a", "b"]) is not first


def test_doctest():
    import doctest
    assert doctest.testmod(thompson).failed == 0
