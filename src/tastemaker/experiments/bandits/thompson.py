"""Thompson sampling with Beta-Bernoulli posteriors: the arm whose posterior draw is largest.

Each arm's success probability has a ``Beta(alpha0 + successes, beta0 + failures)`` posterior; a
reward ``r`` in [0, 1] adds ``r`` to the successes and ``1 - r`` to the failures (a fractional
reward is a Bernoulli trial's expected outcome). The propensity of a choice is estimated from
seeded posterior draws (see :mod:`.montecarlo` for the estimator and its error) and the choice
is drawn from that estimate, so the logged propensity is exactly the probability used.

>>> import numpy as np
>>> policy = ThompsonSampling(n_draws=4000, seed=7)
>>> for _ in range(30):
...     policy.update("good", 1.0); policy.update("bad", 0.0)
>>> choice = policy.choose(["good", "bad"], rng=np.random.default_rng(0))
>>> choice.arm, choice.propensity
('good', 1.0)
"""

from __future__ import annotations

import numpy as np

from .base import BanditPolicy
from .montecarlo import PropensityCache, argmax_frequencies


class ThompsonSampling(BanditPolicy):
    name = "thompson"

    def __init__(self, alpha0: float = 1.0, beta0: float = 1.0, n_draws: int = 500,
                 seed: int = 0) -> None:
        super().__init__()
        if not (alpha0 > 0 and beta0 > 0):
            raise ValueError(f"the Beta prior needs alpha0 > 0 and beta0 > 0, got {alpha0}, {beta0}")
        if n_draws < 1:
            raise ValueError(f"n_draws must be at least 1, got {n_draws}")
        self.alpha0, self.beta0 = float(alpha0), float(beta0)
        self.n_draws, self.seed = int(n_draws), int(seed)
        self.alpha = np.empty(0)
        self.beta = np.empty(0)
        self.version = 0
        self._cache = PropensityCache()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_cache"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._cache = PropensityCache()

    def posterior_mean(self, arm: str) -> float:
        i = self.add_arm(arm)
        return float(self.alpha[i] / (self.alpha[i] + self.beta[i]))

    def _grow(self, n_arms: int) -> None:
        extra = n_arms - len(self.alpha)
        self.alpha = np.concatenate([self.alpha, np.full(extra, self.alpha0)])
        self.beta = np.concatenate([self.beta, np.full(extra, self.beta0)])
        self.version += 1

    def _check_reward(self, reward: float) -> None:
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"Beta-Bernoulli rewards lie in [0, 1], got {reward}")

    def _update(self, index: int, reward: float, x: np.ndarray | None) -> None:
        self.alpha[index] += reward
        self.beta[index] += 1.0 - reward
        self.version += 1

    def _add_reward(self, index: int, reward: float, x: np.ndarray | None) -> None:
        self.alpha[index] += reward
        self.beta[index] -= reward
        self.version += 1

    def _probabilities(self, indices: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        key = tuple(indices.tolist())
        cached = self._cache.get(self.version, key)
        if cached is not None:
            return cached
        a, b = self.alpha[indices], self.beta[indices]
        rng = np.random.default_rng([self.seed, self.version])
        p = argmax_frequencies(lambda g, n: g.beta(a, b, size=(n, len(a))), self.n_draws, rng)
        self._cache.put(key, p)
        return p
