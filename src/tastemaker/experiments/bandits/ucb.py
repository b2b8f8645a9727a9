"""UCB1 (Auer, Cesa-Bianchi and Fischer 2002): the arm with the largest optimistic mean.

Index of arm ``a`` after ``t`` pulls in all: ``mean_a + sqrt(2 ln t / n_a)``; an arm never pulled
comes first. ``tuned=True`` is UCB1-Tuned from the same paper: the bonus
``sqrt(ln t / n_a * min(1/4, V_a))`` with ``V_a`` the arm's reward variance plus
``sqrt(2 ln t / n_a)``, much tighter for rare rewards such as click rates of a few percent
(variance ~p, not the 1/4 UCB1 assumes); it has no proven bound, UCB1 has. The choice is deterministic (the first of the largest indices, in the order the
arms are passed), so its propensity is 1 and every other arm's is 0: logs from UCB1 alone do not
support inverse-propensity estimates of other policies.

>>> import numpy as np
>>> policy = UCB1()
>>> policy.choose(["a", "b"], rng=np.random.default_rng(0))
Choice(arm='a', propensity=1.0)
>>> policy.update("a", 1.0)
>>> policy.choose(["a", "b"], rng=np.random.default_rng(0)).arm  # b has never been pulled
'b'
"""

from __future__ import annotations

import numpy as np

from .base import BanditPolicy, argmax_first, one_hot


class UCB1(BanditPolicy):
    name = "ucb1"

    def __init__(self, exploration: float = 2.0, tuned: bool = False) -> None:
        super().__init__()
        if exploration < 0:
            raise ValueError(f"exploration must be >= 0, got {exploration}")
        self.exploration = float(exploration)
        self.tuned = bool(tuned)
        self.pulls = np.empty(0)
        self.reward_sums = np.empty(0)
        self.reward_squares = np.empty(0)

    def _grow(self, n_arms: int) -> None:
        extra = n_arms - len(self.pulls)
        self.pulls = np.concatenate([self.pulls, np.zeros(extra)])
        self.reward_sums = np.concatenate([self.reward_sums, np.zeros(extra)])
        self.reward_squares = np.concatenate([self.reward_squares, np.zeros(extra)])

    def _update(self, index: int, reward: float, x: np.ndarray | None) -> None:
        self.pulls[index] += 1.0
        self.reward_sums[index] += reward
        self.reward_squares[index] += reward * reward

    def _add_reward(self, index: int, reward: float, x: np.ndarray | None) -> None:
        self.reward_sums[index] += reward
        self.reward_squares[index] += reward * reward

    def upper_bounds(self, indices: np.ndarray) -> np.ndarray:
        n = self.pulls[indices]
        total = max(float(self.pulls.sum()), 1.0)
        log_t = np.log(total)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.reward_sums[indices] / n
            if self.tuned:
                variance = self.reward_squares[indices] / n - mean**2 + np.sqrt(2 * log_t / n)
                bonus = np.sqrt(log_t / n * np.minimum(0.25, variance))
            else:
                bonus = np.sqrt(self.exploration * log_t / n)
        return np.where(n > 0, mean + bonus, np.inf)

    def _probabilities(self, indices: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        return one_hot(len(indices), argmax_first(self.upper_bounds(indices)))
