"""Off-policy evaluation: what a policy would have earned, estimated from another policy's logs.

A log row is (context x_i, arm a_i shown, reward r_i, propensity mu_i = the logging policy's
probability of a_i). The target policy is given as ``target[i, a] = pi(a | x_i)``.

- :func:`replay` (Li, Chu, Langford and Wang 2011): run a policy along the log and keep the rows
  where it picks the logged arm. Unbiased when the log was chosen uniformly at random; it can
  evaluate a policy that learns as it goes.
- :func:`ips`: mean of ``w_i r_i`` with ``w_i = pi(a_i | x_i) / mu_i``. Unbiased when every arm
  the target can pick had mu > 0; variance grows with the weights.
- :func:`snips`: ``sum w r / sum w``: self-normalised, slightly biased, much steadier.
- :func:`doubly_robust` (Dudik, Langford and Li 2011): the reward model's value of the target
  plus the importance-weighted residuals; unbiased if either the propensities or the model is
  right. The model is a per-arm ridge regression, cross-fitted so no row is scored by a model
  that saw it.

Each returns an :class:`Estimate` with its standard error (the sample standard deviation of the
per-row terms over sqrt(n); the delta method for SNIPS).

>>> import numpy as np
>>> log = LoggedData(arms=[0, 1, 0, 1], rewards=[1, 0, 0, 1], propensities=[0.5] * 4)
>>> target = np.tile([1.0, 0.0], (4, 1))  # always arm 0
>>> ips(log, target).value, snips(log, target).value
(0.5, 0.5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bandits import BanditPolicy


@dataclass(frozen=True)
class LoggedData:
    """Logged bandit feedback; ``arms`` index ``arm_names`` (or 0..n_arms-1 when not named)."""

    arms: np.ndarray
    rewards: np.ndarray
    propensities: np.ndarray
    contexts: np.ndarray | None = None
    n_arms: int = 0

    def __post_init__(self) -> None:
        arms = np.asarray(self.arms)
        if arms.ndim != 1 or len(arms) == 0:
            raise ValueError("arms must be a non-empty 1-d array of arm indices")
        if not np.issubdtype(arms.dtype, np.integer):
            raise ValueError("arms must be integer arm indices")
        n = len(arms)
        rewards = np.asarray(self.rewards, dtype=float)
        propensities = np.asarray(self.propensities, dtype=float)
        for name, values in (("rewards", rewards), ("propensities", propensities)):
            if values.shape != (n,):
                raise ValueError(f"{name} must have one value per row ({n}), got shape {values.shape}")
            if not np.all(np.isfinite(values)):
                raise ValueError(f"{name} must be finite numbers")
        if np.any(propensities <= 0) or np.any(propensities > 1):
            raise ValueError("propensities must lie in (0, 1]: a logged arm had some chance of being shown")
        n_arms = int(self.n_arms) or int(arms.max()) + 1
        if arms.min() < 0 or arms.max() >= n_arms:
            raise ValueError(f"arm indices must lie in [0, {n_arms})")
        contexts = None
        if self.contexts is not None:
            contexts = np.asarray(self.contexts, dtype=float)
            if contexts.ndim != 2 or len(contexts) != n:
                raise ValueError(f"contexts must be an (n={n}, d) array, got shape {contexts.shape}")
        object.__setattr__(self, "arms", arms.astype(np.intp))
        object.__setattr__(self, "rewards", rewards)
        object.__setattr__(self, "propensities", propensities)
        object.__setattr__(self, "contexts", contexts)
        object.__setattr__(self, "n_arms", n_arms)

    def __len__(self) -> int:
        return len(self.arms)


@dataclass(frozen=True)
class Estimate:
    value: float
    standard_error: float
    n: int  # rows the estimate rests on (matched rows for replay)

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        return self.value - z * self.standard_error, self.value + z * self.standard_error


def _check_target(log: LoggedData, target: np.ndarray) -> np.ndarray:
    target = np.asarray(target, dtype=float)
    if target.shape != (len(log), log.n_arms):
        raise ValueError(f"target probabilities must have shape ({len(log)}, {log.n_arms}), got {target.shape}")
    if np.any(target < 0) or not np.allclose(target.sum(axis=1), 1.0, atol=1e-9):
        raise ValueError("each row of target probabilities must be non-negative and sum to 1")
    return target


def _mean_estimate(terms: np.ndarray) -> Estimate:
    n = len(terms)
    se = float(np.std(terms, ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return Estimate(float(np.mean(terms)), se, n)


def importance_weights(log: LoggedData, target: np.ndarray) -> np.ndarray:
    target = _check_target(log, target)
    return target[np.arange(len(log)), log.arms] / log.propensities


def ips(log: LoggedData, target: np.ndarray) -> Estimate:
    """Inverse propensity scoring: mean of ``pi(a_i|x_i) / mu_i * r_i``."""
    return _mean_estimate(importance_weights(log, target) * log.rewards)


def snips(log: LoggedData, target: np.ndarray) -> Estimate:
    """Self-normalised IPS: ``sum w r / sum w``; standard error by the delta method."""
    w = importance_weights(log, target)
    total = float(w.sum())
    if total <= 0:
        raise ValueError("the target policy gives no weight to any logged arm: nothing to estimate from")
    value = float(w @ log.rewards) / total
    se = float(math.sqrt(np.sum(w**2 * (log.rewards - value) ** 2)) / total)
    return Estimate(value, se, len(log))


class RidgeRewardModel:
    """Per-arm ridge regression of reward on ``[1, context]`` (on the intercept alone without contexts)."""

    def __init__(self, n_arms: int, ridge: float = 1.0) -> None:
        self.n_arms, self.ridge = n_arms, ridge
        self.coefficients: np.ndarray | None = None

    @staticmethod
    def design(contexts: np.ndarray | None, n: int) -> np.ndarray:
        ones = np.ones((n, 1))
        return ones if contexts is None else np.hstack([ones, contexts])

    def fit(self, contexts: np.ndarray | None, arms: np.ndarray, rewards: np.ndarray) -> RidgeRewardModel:
        x = self.design(contexts, len(arms))
        d = x.shape[1]
        penalty = self.ridge * np.eye(d)
        penalty[0, 0] = 1e-9  # do not shrink the intercept (the arm's mean) towards 0
        self.coefficients = np.zeros((self.n_arms, d))
        for arm in range(self.n_arms):
            rows = arms == arm
            if rows.any():
                xa = x[rows]
                self.coefficients[arm] = np.linalg.solve(xa.T @ xa + penalty, xa.T @ rewards[rows])
        return self

    def predict(self, contexts: np.ndarray | None, n: int) -> np.ndarray:
        """(n, n_arms) predicted rewards."""
        assert self.coefficients is not None, "fit first"
        return self.design(contexts, n) @ self.coefficients.T


def doubly_robust(log: LoggedData, target: np.ndarray, ridge: float = 1.0, folds: int = 2,
                  seed: int = 0) -> Estimate:
    """Model value of the target plus importance-weighted residuals, cross-fitted over ``folds``."""
    w = importance_weights(log, target)
    target = np.asarray(target, dtype=float)
    n = len(log)
    fold_of = np.random.default_rng(seed).permutation(n) % max(folds, 1)
    predicted = np.empty((n, log.n_arms))
    for fold in range(max(folds, 1)):
        held = fold_of == fold
        train = ~held if folds > 1 else held
        ctx = log.contexts
        model = RidgeRewardModel(log.n_arms, ridge).fit(
            None if ctx is None else ctx[train], log.arms[train], log.rewards[train])
        predicted[held] = model.predict(None if ctx is None else ctx[held], int(held.sum()))
    direct = np.sum(target * predicted, axis=1)
    residual = log.rewards - predicted[np.arange(n), log.arms]
    return _mean_estimate(direct + w * residual)


def target_probabilities(policy: BanditPolicy, log: LoggedData, arm_names: list[str]) -> np.ndarray:
    """A (frozen) policy's choice probabilities over ``arm_names`` for every logged context."""
    if len(arm_names) != log.n_arms:
        raise ValueError(f"arm_names has {len(arm_names)} names for {log.n_arms} arms")
    rows = [policy.probabilities(arm_names, None if log.contexts is None else log.contexts[i])
            for i in range(len(log))]
    return np.vstack(rows)


def replay(log: LoggedData, policy: BanditPolicy, arm_names: list[str], rng: np.random.Generator,
           learn: bool = True) -> Estimate:
    """Li et al.'s replay: the policy's mean reward over the rows where it picks the logged arm.

    Rows are taken in log order; with ``learn`` the policy is updated on each matched row (as it
    would have been online). Needs a log chosen uniformly at random to be unbiased.
    """
    if len(arm_names) != log.n_arms:
        raise ValueError(f"arm_names has {len(arm_names)} names for {log.n_arms} arms")
    matched = []
    for i in range(len(log)):
        x = None if log.contexts is None else log.contexts[i]
        choice = policy.choose(arm_names, x, rng)
        if choice.arm == arm_names[log.arms[i]]:
            matched.append(log.rewards[i])
            if learn:
                policy.update(choice.arm, log.rewards[i], x)
    if not matched:
        raise ValueError("the policy matched no logged row: replay has nothing to average")
    return _mean_estimate(np.asarray(matched))
