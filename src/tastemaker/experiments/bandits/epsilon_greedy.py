"""Epsilon-greedy: the best mean so far with probability 1 - epsilon, else a uniform arm.

Propensities: ``epsilon / K + (1 - epsilon)`` for the greedy arm (the first of the best means,
in the order the arms are passed; an arm never pulled has mean ``initial_value``) and
``epsilon / K`` for each other arm.

>>> import numpy as np
>>> policy = EpsilonGreedy(epsilon=0.2)
>>> policy.update("b", 1.0)
>>> policy.probabilities(["a", "b", "c", "d"]).round(6).tolist()
[0.05, 0.85, 0.05, 0.05]
"""

from __future__ import annotations

import numpy as np

from .base import BanditPolicy, argmax_first


class EpsilonGreedy(BanditPolicy):
    name = "epsilon_greedy"

    def __init__(self, epsilon: float = 0.1, initial_value: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
        self.epsilon = float(epsilon)
        self.initial_value = float(initial_value)
        self.pulls = np.empty(0)
        self.reward_sums = np.empty(0)

    def _grow(self, n_arms: int) -> None:
        extra = n_arms - len(self.pulls)
        self.pulls = np.concatenate([self.pulls, np.zeros(extra)])
        self.reward_sums = np.concatenate([self.reward_sums, np.zeros(extra)])

    def _update(self, index: int, reward: float, x: np.ndarray | None) -> None:
        self.pulls[index] += 1.0
        self.reward_sums[index] += reward

    def _add_reward(self, index: int, reward: float, x: np.ndarray | None) -> None:
        self.reward_sums[index] += reward

    def means(self, indices: np.ndarray) -> np.ndarray:
        n = self.pulls[indices]
        safe = np.where(n > 0, n, 1.0)
        return np.where(n > 0, self.reward_sums[indices] / safe, self.initial_value)

    def _probabilities(self, indices: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        k = len(indices)
        p = np.full(k, self.epsilon / k)
        p[argmax_first(self.means(indices))] += 1.0 - self.epsilon
        return p
