"""Epsilon-greedy: the shared checks and the propensity formula eps/K + (1 - eps)."""

import numpy as np
import pytest

from tastemaker.experiments.bandits import EpsilonGreedy

from .checks import parametrize_checks


@parametrize_checks()
def test_check_suite(check):
    check(lambda: EpsilonGreedy(epsilon=0.1))


def test_propensities_by_formula():
    policy = EpsilonGreedy(epsilon=0.3)
    policy.update("b", 0.4)
    policy.update("c", 0.9)
    policy.update("c", 0.1)  # mean 0.5 beats b's 0.4
    p = policy.probabilities(["a", "b", "c", "d", "e"])
    np.testing.assert_allclose(p, [0.06, 0.06, 0.06 + 0.7, 0.06, 0.06], rtol=1e-12)
    choice = policy.choose(["a", "c"], rng=np.random.default_rng(1))
    assert choice.propensity == pytest.approx(0.15 + 0.7 if choice.arm == "c" else 0.15)


def test_greedy_ties_and_unpulled_arms():
    policy = EpsilonGreedy(epsilon=0.0, initial_value=1.0)  # optimistic start: unpulled arms first
    policy.update("a", 0.5)
    assert policy.choose(["a", "b"], rng=np.random.default_rng(0)).arm == "b"
    assert policy.probabilities(["b", "c"]).tolist() == [1.0, 0.0]  # tie: first passed


def test_bad_epsilon_is_refused():
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(epsilon=1.5)


def test_doctest():
    import doctest

    from tastemaker.experiments.bandits import epsilon_greedy
    assert doctest.testmod(epsilon_greedy).failed == 0
