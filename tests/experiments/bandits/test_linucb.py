"""Disjoint LinUCB: the shared checks, ridge estimates and scores against a direct solve."""

import numpy as np
import pytest

from tastemaker.experiments.bandits import LinUCB

from .checks import parametrize_checks


@parametrize_checks()
def test_check_suite(check):
    check(lambda: LinUCB(n_features=3, alpha=0.5))


def test_sherman_morrison_state_equals_the_ridge_solution():
    rng = np.random.default_rng(0)
    policy = LinUCB(n_features=4, alpha=0.7, ridge=2.0)
    xs, rs = rng.normal(size=(30, 4)), rng.random(30)
    for x, r in zip(xs, rs):
        policy.update("a", r, x)
    a = 2.0 * np.eye(4) + xs.T @ xs
    theta = np.linalg.solve(a, xs.T @ rs)
    np.testing.assert_allclose(policy.theta("a"), theta, rtol=1e-9, atol=1e-12)
    x = rng.normal(size=4)
    mean, width = policy.mean_and_width(np.array([0]), x)
    assert mean[0] == pytest.approx(x @ theta, rel=1e-9)
    assert width[0] == pytest.approx(np.sqrt(x @ np.linalg.solve(a, x)), rel=1e-9)


def test_learns_which_arm_fits_which_context():
    rng = np.random.default_rng(1)
    policy = LinUCB(n_features=2, alpha=0.3)
    for _ in range(300):
        x = np.array([1.0, rng.choice([-1.0, 1.0])])
        choice = policy.choose(["up", "down"], x, rng)
        best = "up" if x[1] > 0 else "down"
        policy.update(choice.arm, float(rng.random() < (0.7 if choice.arm == best else 0.2)), x)
    assert policy.choose(["up", "down"], np.array([1.0, 1.0]), rng).arm == "up"
    assert policy.choose(["up", "down"], np.array([1.0, -1.0]), rng).arm == "down"


def test_doctest():
    import doctest

    from tastemaker.experiments.bandits import linucb
    assert doctest.testmod(linucb).failed == 0
