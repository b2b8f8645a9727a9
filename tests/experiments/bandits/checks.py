"""The check suite every bandit policy passes (one test module per policy runs it).

Each check takes a ``make`` factory returning a fresh policy; contextual policies get context
vectors of ``policy.n_features`` features, the others ``None``. Policy-specific known answers
live in the policy's own test module.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable

import numpy as np
import pytest

from tastemaker.experiments.bandits import BanditPolicy, Choice

Make = Callable[[], BanditPolicy]
ARMS = ["a", "b", "c"]


def context_of(policy: BanditPolicy, rng: np.random.Generator) -> np.ndarray | None:
    if not policy.contextual:
        return None
    x = rng.normal(size=policy.n_features)
    x[0] = 1.0  # an intercept, as serving adds one
    return x


def train(policy: BanditPolicy, rounds: int = 60, seed: int = 3) -> None:
    """Arm "a" pays 0.8 of the time, "b" 0.2, "c" never is pulled."""
    rng = np.random.default_rng(seed)
    for i in range(rounds):
        arm = "a" if i % 2 == 0 else "b"
        reward = float(rng.random() < (0.8 if arm == "a" else 0.2))
        policy.update(arm, reward, context_of(policy, rng))


def check_pickle_round_trip(make: Make) -> None:
    policy = make()
    train(policy)
    blob = pickle.dumps(policy)
    copy = pickle.loads(blob)
    assert copy.arms == policy.arms
    x = context_of(policy, np.random.default_rng(9))
    np.testing.assert_array_equal(copy.probabilities(ARMS, x), policy.probabilities(ARMS, x))
    picks = [policy.choose(ARMS, x, np.random.default_rng(s)) for s in range(20)]
    assert [copy.choose(ARMS, x, np.random.default_rng(s)) for s in range(20)] == picks
    # small: a few arrays, no caches or generators (bound: 3 arms, the largest state is 3 x d^2)
    assert len(blob) < 2_000 + 3 * 8 * getattr(policy, "n_features", 1) ** 2


def check_unseen_arm(make: Make) -> None:
    policy = make()
    train(policy)
    x = context_of(policy, np.random.default_rng(1))
    choice = policy.choose(["a", "b", "new"], x, np.random.default_rng(0))
    assert isinstance(choice, Choice) and choice.arm in {"a", "b", "new"}
    assert "new" in policy.arms
    before = policy.probabilities(["a", "b", "new"], x)
    policy.update("newer", 1.0, x)  # an update may introduce an arm too
    assert policy.arms[-1] == "newer"
    assert np.isclose(policy.probabilities(["a", "b", "new", "newer"], x).sum(), 1.0)
    assert before.shape == (3,)


def check_deterministic_with_seed(make: Make) -> None:
    def run() -> list[Choice]:
        policy = make()
        rng = np.random.default_rng(11)
        out = []
        for _ in range(40):
            x = context_of(policy, rng)
            choice = policy.choose(ARMS, x, rng)
            policy.update(choice.arm, float(rng.random() < 0.5), x)
            out.append(choice)
        return out

    assert run() == run()


def check_propensities(make: Make) -> None:
    """Probabilities sum to 1, the choice reports its own, and choices follow them."""
    policy = make()
    train(policy)
    x = context_of(policy, np.random.default_rng(2))
    p = policy.probabilities(ARMS, x)
    assert p.shape == (3,) and np.all(p >= 0) and math.isclose(p.sum(), 1.0, rel_tol=1e-12)
    rng = np.random.default_rng(4)
    n = 4000
    counts = dict.fromkeys(ARMS, 0)
    for _ in range(n):
        choice = policy.choose(ARMS, x, rng)
        assert choice.propensity == p[ARMS.index(choice.arm)] > 0
        counts[choice.arm] += 1
    for arm, prob in zip(ARMS, p):
        # binomial count: 5 standard deviations (plus one count) keeps this check from flaking
        assert abs(counts[arm] / n - prob) <= 5 * math.sqrt(prob * (1 - prob) / n) + 1 / n


def check_updates_move_the_right_way(make: Make) -> None:
    """Rewarding one arm and not the other makes the first more likely, then the favourite."""
    policy = make()
    rng = np.random.default_rng(5)
    x = context_of(policy, rng)
    for arm in ("good", "bad"):  # both arms seen once, equally rewarded
        policy.update(arm, 0.5, x)
    start = policy.probabilities(["good", "bad"], x)[0]
    for _ in range(50):
        policy.update("good", 1.0, x)
        policy.update("bad", 0.0, x)
    end = policy.probabilities(["good", "bad"], x)
    assert end[0] >= start and end[0] >= 0.9


def check_bad_input_is_refused(make: Make) -> None:
    policy = make()
    x = context_of(policy, np.random.default_rng(6))
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="non-empty"):
        policy.choose([], x, rng)
    with pytest.raises(ValueError, match="distinct"):
        policy.choose(["a", "a"], x, rng)
    with pytest.raises(ValueError, match="finite"):
        policy.update("a", float("nan"), x)
    with pytest.raises(ValueError, match="rng"):
        policy.choose(["a"], x, None)
    if policy.contextual:
        with pytest.raises(ValueError, match="context"):
            policy.choose(["a"], None, rng)
        with pytest.raises(ValueError, match="shape"):
            policy.update("a", 1.0, np.ones(policy.n_features + 1))
    assert policy.arms == ()  # a refused call added no arm and learned nothing


def check_delayed_reward_equals_an_update(make: Make) -> None:
    """A trial counted with 0 when served and credited later ends where one update would."""
    direct, delayed = make(), make()
    rng = np.random.default_rng(8)
    for i in range(12):
        x = context_of(direct, rng)
        arm, reward = ARMS[i % 3], [0.0, 1.0, 0.25][i % 3]
        direct.update(arm, reward, x)
        delayed.update(arm, 0.0, x)
        if reward:
            delayed.add_reward(arm, reward, x)
    x = context_of(direct, rng)
    # the posterior arrays are the state (Monte Carlo seeds follow the update count, not compared)
    for name, value in vars(direct).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(getattr(delayed, name), value, atol=1e-12, err_msg=name)
    with pytest.raises(ValueError, match="no counted trial|none"):
        make().add_reward("never", 1.0, x)


ALL_CHECKS = [check_pickle_round_trip, check_delayed_reward_equals_an_update, check_unseen_arm, check_deterministic_with_seed,
              check_propensities, check_updates_move_the_right_way, check_bad_input_is_refused]


def parametrize_checks():
    return pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
