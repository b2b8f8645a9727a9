"""Bandit policies (issue 16 item 6): one per module, all keeping :class:`base.BanditPolicy`'s contract.

``choose(arms, context, rng) -> Choice(arm, propensity)``; ``update(arm, reward, context)``;
``probabilities(arms, context)``. Policies by config name: :data:`POLICIES`.
"""

from .base import BanditPolicy, Choice
from .epsilon_greedy import EpsilonGreedy
from .linear_thompson import LinearThompson
from .linucb import LinUCB
from .thompson import ThompsonSampling
from .ucb import UCB1

POLICIES: dict[str, type[BanditPolicy]] = {
    cls.name: cls for cls in (ThompsonSampling, UCB1, EpsilonGreedy, LinUCB, LinearThompson)
}

__all__ = ["POLICIES", "BanditPolicy", "Choice", "EpsilonGreedy", "LinUCB", "LinearThompson",
           "ThompsonSampling", "UCB1"]
