"""Off-policy estimators: hand-computed logs, double robustness, and known values recovered."""

import doctest

import numpy as np
import pytest

from tastemaker.experiments import offpolicy
from tastemaker.experiments.bandits import EpsilonGreedy
from tastemaker.experiments.offpolicy import (
    LoggedData, doubly_robust, ips, replay, snips, target_probabilities)


def test_hand_computed_ips_and_snips():
    log = LoggedData(arms=[0, 1, 0, 1], rewards=[1, 0, 0, 1], propensities=[0.8, 0.2, 0.4, 0.6])
    target = np.full((4, 2), 0.5)
    w = np.array([0.5 / 0.8, 0.5 / 0.2, 0.5 / 0.4, 0.5 / 0.6])
    assert ips(log, target).value == pytest.approx((w[0] + w[3]) / 4, rel=1e-12)
    assert snips(log, target).value == pytest.approx((w[0] + w[3]) / w.sum(), rel=1e-12)
    terms = w * np.array([1, 0, 0, 1])
    assert ips(log, target).standard_error == pytest.approx(terms.std(ddof=1) / 2, rel=1e-12)


def test_target_equal_to_logging_policy_gives_the_logged_mean():
    rng = np.random.default_rng(0)
    arms = rng.integers(0, 3, 500)
    rewards = rng.random(500)
    log = LoggedData(arms=arms, rewards=rewards, propensities=np.full(500, 1 / 3))
    uniform = np.full((500, 3), 1 / 3)
    for estimator in (ips, snips):  # every weight is 1
        assert estimator(log, uniform).value == pytest.approx(rewards.mean(), rel=1e-9)
    # DR averages the per-arm means (cross-fitted) instead: close, not equal, when arm counts differ
    dr = doubly_robust(log, uniform)
    assert abs(dr.value - rewards.mean()) <= 2 * dr.standard_error


def test_doubly_robust_survives_wrong_propensities_when_the_model_is_right():
    # arm 0 always pays 1, arm 1 never: the per-arm model is exact, so residuals vanish
    rng = np.random.default_rng(1)
    arms = rng.integers(0, 2, 400)
    log = LoggedData(arms=arms, rewards=(arms == 0).astype(float),
                     propensities=np.where(arms == 0, 0.9, 0.1))  # the truth is 0.5 / 0.5
    target = np.tile([0.7, 0.3], (400, 1))
    assert doubly_robust(log, target).value == pytest.approx(0.7, abs=1e-6)
    assert abs(ips(log, target).value - 0.7) > 0.2  # IPS believes the wrong propensities


def contextual_log(n: int, seed: int):
    """Uniformly logged 3-arm data where arm a pays with probability sigmoid(x . beta_a)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    beta = np.array([[1.0, -1.0], [-1.0, 1.0], [0.2, 0.2]])
    truth = 1 / (1 + np.exp(-(x @ beta.T)))  # (n, 3)
    arms = rng.integers(0, 3, n)
    rewards = (rng.random(n) < truth[np.arange(n), arms]).astype(float)
    return LoggedData(arms=arms, rewards=rewards, propensities=np.full(n, 1 / 3), contexts=x), truth


def test_estimators_recover_a_known_target_value():
    log, truth = contextual_log(20_000, seed=2)
    target = np.zeros_like(truth)
    target[np.arange(len(log)), np.argmax(log.contexts @ [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]], axis=1)] = 1.0
    target = 0.8 * target + 0.2 / 3  # a randomised target policy
    value = float(np.mean(np.sum(target * truth, axis=1)))
    estimates = {f.__name__: f(log, target) for f in (ips, snips, doubly_robust)}
    for name, estimate in estimates.items():
        # 4 standard errors of each estimator around the value on these contexts
        assert abs(estimate.value - value) <= 4 * estimate.standard_error, name
    assert estimates["doubly_robust"].standard_error < estimates["ips"].standard_error


def test_replay_of_a_frozen_policy_is_the_mean_over_matched_rows():
    log, truth = contextual_log(3000, seed=3)
    policy = EpsilonGreedy(epsilon=0.0)
    policy.update("b", 1.0)  # greedy: always "b"
    names = ["a", "b", "c"]
    estimate = replay(log, policy, names, np.random.default_rng(0), learn=False)
    matched = log.arms == 1
    assert estimate.n == matched.sum()
    assert estimate.value == pytest.approx(log.rewards[matched].mean(), rel=1e-12)
    assert abs(estimate.value - truth[:, 1].mean()) <= 4 * estimate.standard_error
    np.testing.assert_array_equal(target_probabilities(policy, log, names)[:, 1], 1.0)


def test_replay_of_a_learning_policy_improves_on_uniform():
    log, truth = contextual_log(6000, seed=4)
    from tastemaker.experiments.bandits import LinUCB
    policy = LinUCB(n_features=2, alpha=0.5)
    estimate = replay(log, policy, ["a", "b", "c"], np.random.default_rng(0))
    assert estimate.value > truth.mean() + 4 * estimate.standard_error


def test_bad_logs_and_targets_are_refused():
    with pytest.raises(ValueError, match="propensities must lie in"):
        LoggedData(arms=[0, 1], rewards=[1, 0], propensities=[0.5, 0.0])
    with pytest.raises(ValueError, match="one value per row"):
        LoggedData(arms=[0, 1], rewards=[1], propensities=[0.5, 0.5])
    with pytest.raises(ValueError, match="arm indices"):
        LoggedData(arms=[0, 3], rewards=[1, 0], propensities=[0.5, 0.5], n_arms=2)
    with pytest.raises(ValueError, match="integer"):
        LoggedData(arms=[0.5], rewards=[1], propensities=[0.5])
    log = LoggedData(arms=[0, 1], rewards=[1, 0], propensities=[0.5, 0.5])
    with pytest.raises(ValueError, match="shape"):
        ips(log, np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="sum to 1"):
        snips(log, np.full((2, 2), 0.7))
    with pytest.raises(ValueError, match="no weight"):
        snips(LoggedData(arms=[1, 1], rewards=[1, 0], propensities=[0.5, 0.5], n_arms=2),
              np.tile([1.0, 0.0], (2, 1)))


def test_doctest():
    assert doctest.testmod(offpolicy).failed == 0
