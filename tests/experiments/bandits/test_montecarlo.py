"""The Monte Carlo propensity estimator: known answers, its error bound, the per-version cache."""

import doctest

import numpy as np

from tastemaker.experiments.bandits import montecarlo
from tastemaker.experiments.bandits.montecarlo import PropensityCache, argmax_frequencies, max_standard_error


def test_frequencies_of_a_known_race():
    # X1, X2 ~ U(0, 1), X3 ~ U(0.5, 1.5): P(X3 wins) = E[min(X3, 1)^2] = int_0.5^1 x^2 dx + 0.5 = 19/24,
    # and X1, X2 share the rest: 5/48 each
    n = 200_000
    p = argmax_frequencies(lambda g, k: g.uniform([0, 0, 0.5], [1, 1, 1.5], size=(k, 3)), n, np.random.default_rng(0))
    assert abs(p.sum() - 1) < 1e-12
    for estimate, exact in zip(p, (5 / 48, 5 / 48, 19 / 24)):
        assert abs(estimate - exact) <= 4 * np.sqrt(exact * (1 - exact) / n)


def test_a_single_draw_is_one_hot_and_the_bound():
    p = argmax_frequencies(lambda g, k: np.array([[0.1, 0.9, 0.3]]), 1, np.random.default_rng(0))
    assert p.tolist() == [0.0, 1.0, 0.0]
    assert max_standard_error(500) == 0.5 / np.sqrt(500)


def test_cache_holds_one_version_and_a_bounded_number_of_arm_sets():
    cache = PropensityCache(limit=2)
    assert cache.get(1, (0, 1)) is None
    cache.put((0, 1), np.array([0.5, 0.5]))
    cache.put((1, 2), np.array([0.2, 0.8]))
    assert cache.get(1, (0, 1)).tolist() == [0.5, 0.5]
    cache.put((0, 2), np.array([1.0, 0.0]))  # over the limit: the oldest entry leaves
    assert cache.get(1, (0, 1)) is None and cache.get(1, (0, 2)) is not None
    assert cache.get(2, (0, 2)) is None  # a new version empties it


def test_doctest():
    assert doctest.testmod(montecarlo).failed == 0
