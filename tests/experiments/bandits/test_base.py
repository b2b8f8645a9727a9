"""The base contract's own pieces: arm bookkeeping, the draw against the probabilities, helpers."""

import doctest

import numpy as np
import pytest

from tastemaker.experiments.bandits import base
from tastemaker.experiments.bandits.base import BanditPolicy, argmax_first, one_hot


class Fixed(BanditPolicy):
    """Probabilities given by hand, to check how choose draws from them."""

    def __init__(self, p):
        super().__init__()
        self.p = np.asarray(p, dtype=float)

    def _grow(self, n_arms):
        pass

    def _probabilities(self, indices, x):
        return self.p[: len(indices)]

    def _update(self, index, reward, x):
        pass

    def _add_reward(self, index, reward, x):
        pass


def test_arms_are_added_in_order_once():
    policy = Fixed([0.5, 0.5])
    assert policy.add_arm("x") == 0 and policy.add_arm("y") == 1 and policy.add_arm("x") == 0
    assert policy.arms == ("x", "y")
    with pytest.raises(ValueError, match="non-empty string"):
        policy.add_arm("")


def test_choice_is_one_uniform_against_the_cumulative_probabilities():
    policy = Fixed([0.2, 0.0, 0.8])
    # the same draw a Generator gives: u < 0.2 -> first arm, else the third (never the 0-probability one)
    for seed in range(50):
        u = np.random.default_rng(seed).random()
        choice = policy.choose(["a", "b", "c"], rng=np.random.default_rng(seed))
        assert choice.arm == ("a" if u < 0.2 else "c")
        assert choice.propensity == (0.2 if u < 0.2 else 0.8)


def test_round_off_never_picks_a_zero_probability_arm():
    policy = Fixed([0.3, 0.7 - 1e-12, 0.0])  # sums to just under 1

    class Top:  # a generator whose draw is the largest float below 1
        def random(self):
            return 1.0 - 1e-16
    assert policy.choose(["a", "b", "c"], rng=Top()).arm == "b"


def test_helpers():
    assert argmax_first(np.array([1.0, 3.0, 3.0])) == 1
    assert one_hot(3, 2).tolist() == [0.0, 0.0, 1.0]


def test_doctest():
    assert doctest.testmod(base).failed == 0
