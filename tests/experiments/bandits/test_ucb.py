"""UCB1: the shared checks, the index by hand, deterministic ties."""

import math

import numpy as np

from tastemaker.experiments.bandits import UCB1

from .checks import parametrize_checks


@parametrize_checks()
def test_check_suite(check):
    check(UCB1)


@parametrize_checks()
def test_check_suite_tuned(check):
    check(lambda: UCB1(tuned=True))


def test_tuned_bonus_by_hand():
    policy = UCB1(tuned=True)
    for r in (1, 0, 0, 0):
        policy.update("x", r)
    for r in (0, 0, 0, 0, 0, 0):
        policy.update("y", r)
    t = 10
    mean, var = 0.25, 0.25 - 0.0625 + math.sqrt(2 * math.log(t) / 4)
    x_bound = mean + math.sqrt(math.log(t) / 4 * min(0.25, var))
    y_bound = 0 + math.sqrt(math.log(t) / 6 * min(0.25, 0 + math.sqrt(2 * math.log(t) / 6)))
    np.testing.assert_allclose(policy.upper_bounds(np.array([0, 1])), [x_bound, y_bound], rtol=1e-12)


def test_index_by_hand_and_unpulled_arms_first():
    policy = UCB1()
    rng = np.random.default_rng(0)
    assert policy.choose(["x", "y", "z"], rng=rng).arm == "x"  # all unpulled: first in order
    for arm, rewards in {"x": [1, 0, 1, 1], "y": [0, 0]}.items():
        for r in rewards:
            policy.update(arm, r)
    assert policy.choose(["x", "y", "z"], rng=rng).arm == "z"
    policy.update("z", 0.0)
    t = 7  # pulls in all
    expected = [3 / 4 + math.sqrt(2 * math.log(t) / 4), 0 + math.sqrt(2 * math.log(t) / 2),
                0 + math.sqrt(2 * math.log(t) / 1)]
    idx = np.array([policy.arms.index(a) for a in ("x", "y", "z")])
    np.testing.assert_allclose(policy.upper_bounds(idx), expected, rtol=1e-12)
    best = ["x", "y", "z"][int(np.argmax(expected))]
    assert policy.choose(["x", "y", "z"], rng=rng).arm == best


def test_ties_go_to_the_first_arm_passed():
    policy = UCB1()
    for arm in ("p", "q"):
        policy.update(arm, 1.0)
    rng = np.random.default_rng(0)
    assert policy.choose(["p", "q"], rng=rng).arm == "p"
    assert policy.choose(["q", "p"], rng=rng).arm == "q"
    assert policy.probabilities(["q", "p"]).tolist() == [1.0, 0.0]


def test_doctest():
    import doctest

    from tastemaker.experiments.bandits import ucb
    assert doctest.testmod(ucb).failed == 0
