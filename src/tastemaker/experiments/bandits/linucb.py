"""Disjoint LinUCB (Li, Chu, Langford and Schapire 2010): the arm with the largest optimistic fit.

Score of arm ``a`` in context ``x``: ``x . theta_a + alpha * sqrt(x^T A_a^-1 x)`` (see
:mod:`.linear`). The choice is deterministic (first of the largest scores, in the order the arms
are passed): propensity 1.

>>> import numpy as np
>>> policy = LinUCB(n_features=2, alpha=0.5)
>>> for _ in range(50):
...     policy.update("left", 1.0, np.array([1.0, 0.0])); policy.update("right", 1.0, np.array([0.0, 1.0]))
>>> policy.choose(["left", "right"], np.array([0.0, 1.0]), np.random.default_rng(0)).arm
'right'
"""

from __future__ import annotations

import numpy as np

from .base import argmax_first, one_hot
from .linear import LinearPolicy


class LinUCB(LinearPolicy):
    name = "linucb"

    def __init__(self, n_features: int, alpha: float = 1.0, ridge: float = 1.0) -> None:
        super().__init__(n_features, ridge)
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)

    def _probabilities(self, indices: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        mean, width = self.mean_and_width(indices, x)
        return one_hot(len(indices), argmax_first(mean + self.alpha * width))
