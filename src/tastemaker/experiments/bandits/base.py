"""The contract every bandit policy keeps: choose an arm with its propensity, learn from a reward.

A policy holds a posterior (or estimates) per arm, keyed by the arm's name. Arms are added
when first seen, by :meth:`BanditPolicy.choose` or :meth:`BanditPolicy.update`, so a placement
can gain a strategy or an item at run time without losing what was learned about the others.

``choose(arms, context, rng)`` returns a :class:`Choice`: the arm and its *propensity*, the
probability with which the policy picked that arm given its state and the candidate arms. The
propensity is what off-policy estimators divide by (experiments/offpolicy.py), so every policy
draws its choice from exactly the distribution whose probability it reports.

State is a few numpy arrays per policy (O(arms) or O(arms x features^2)); instances pickle as
they are, and a pickled copy chooses exactly as the original does for the same ``rng`` seed.

>>> import numpy as np
>>> from tastemaker.experiments.bandits import EpsilonGreedy
>>> policy = EpsilonGreedy(epsilon=0.1)
>>> policy.update("b", 1.0)
>>> choice = policy.choose(["a", "b"], rng=np.random.default_rng(0))
>>> round(float(policy.probabilities(["a", "b"])[1]), 6)
0.95
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Choice:
    """The arm a policy picked and the probability it had of picking it (0 < propensity <= 1)."""

    arm: str
    propensity: float


class BanditPolicy(ABC):
    """Base class: arm bookkeeping and validation; subclasses hold the per-arm statistics."""

    #: short name used in placement configs (``bandit: {policy: thompson}``)
    name: str = ""
    #: whether choose/update need a context feature vector
    contextual: bool = False

    def __init__(self) -> None:
        self._arms: list[str] = []
        self._index: dict[str, int] = {}

    # -- arms ---------------------------------------------------------------------------------
    @property
    def arms(self) -> tuple[str, ...]:
        """Every arm seen so far, in the order first seen."""
        return tuple(self._arms)

    def add_arm(self, arm: str) -> int:
        """Start tracking ``arm`` with the prior (no-op when known); returns its index."""
        index = self._index.get(arm)
        if index is not None:
            return index
        if not isinstance(arm, str) or not arm:
            raise ValueError(f"an arm is a non-empty string, got {arm!r}")
        index = len(self._arms)
        self._arms.append(arm)
        self._index[arm] = index
        self._grow(index + 1)
        return index

    def _indices(self, arms: Sequence[str]) -> np.ndarray:
        # validated before any arm is added, so a refused call changes nothing
        if isinstance(arms, str) or len(arms) == 0:
            raise ValueError("choose needs a non-empty sequence of arm names")
        if len(set(arms)) != len(arms):
            raise ValueError(f"arms must be distinct, got {list(arms)}")
        for arm in arms:
            if not isinstance(arm, str) or not arm:
                raise ValueError(f"an arm is a non-empty string, got {arm!r}")
        return np.fromiter((self.add_arm(a) for a in arms), dtype=np.intp, count=len(arms))

    # -- the contract ---------------------------------------------------------------------------
    def choose(self, arms: Sequence[str], context: np.ndarray | None = None,
               rng: np.random.Generator | None = None) -> Choice:
        """Pick one of ``arms`` (unknown ones start at the prior) and say how likely it was."""
        if rng is None:
            raise ValueError("choose needs an rng (numpy Generator) so choices are reproducible")
        x = self._check_context(context)
        indices = self._indices(arms)
        probabilities = self._probabilities(indices, x)
        # One uniform draw against the cumulative probabilities: the choice is drawn from exactly
        # the distribution reported, and a one-hot distribution consumes the same single draw.
        u = rng.random()
        position = int(np.searchsorted(np.cumsum(probabilities), u, side="right"))
        position = min(position, len(indices) - 1)
        while probabilities[position] <= 0.0:  # float round-off at the top end of the cumsum
            position -= 1
        return Choice(arm=self._arms[indices[position]], propensity=float(probabilities[position]))

    def probabilities(self, arms: Sequence[str], context: np.ndarray | None = None) -> np.ndarray:
        """The probability of choosing each of ``arms`` now (sums to 1), in the order given."""
        x = self._check_context(context)
        return self._probabilities(self._indices(arms), x)

    def update(self, arm: str, reward: float, context: np.ndarray | None = None) -> None:
        """Learn that ``arm``, chosen in ``context``, earned ``reward``."""
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(f"reward must be a finite number, got {reward!r}")
        self._check_reward(reward)
        x = self._check_context(context)
        self._update(self.add_arm(arm), reward, x)

    def add_reward(self, arm: str, reward: float, context: np.ndarray | None = None) -> None:
        """Add ``reward`` to a trial already counted with reward 0 (:meth:`update` with 0 when the
        arm was served, this when its outcome arrives): ``update(a, 0, x)`` then
        ``add_reward(a, r, x)`` leaves the same state as ``update(a, r, x)``."""
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(f"reward must be a finite number, got {reward!r}")
        self._check_reward(reward)
        x = self._check_context(context)
        index = self._index.get(arm)
        if index is None:
            raise ValueError(f"add_reward needs an arm with a counted trial; '{arm}' has none")
        self._add_reward(index, reward, x)

    # -- subclass hooks -----------------------------------------------------------------------
    @abstractmethod
    def _grow(self, n_arms: int) -> None:
        """Extend the per-arm arrays to ``n_arms`` with the prior."""

    @abstractmethod
    def _probabilities(self, indices: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        """Choice probabilities over ``indices`` (one per entry, summing to 1)."""

    @abstractmethod
    def _update(self, index: int, reward: float, x: np.ndarray | None) -> None:
        """Fold one reward into arm ``index``'s statistics."""

    @abstractmethod
    def _add_reward(self, index: int, reward: float, x: np.ndarray | None) -> None:
        """Turn one counted 0-reward trial of arm ``index`` into a ``reward`` one."""

    def _check_reward(self, reward: float) -> None:
        """Policies with a bounded reward model refuse rewards outside it."""

    def _check_context(self, context: np.ndarray | None) -> np.ndarray | None:
        return None  # non-contextual policies ignore the context


def argmax_first(values: np.ndarray) -> int:
    """Index of the largest value, the first one on ties (deterministic tie-breaking)."""
    return int(np.argmax(values))


def one_hot(n: int, position: int) -> np.ndarray:
    out = np.zeros(n)
    out[position] = 1.0
    return out
