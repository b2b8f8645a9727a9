"""Per-arm ridge regression of reward on a context vector: the state LinUCB and linear Thompson share.

Disjoint model (Li et al. 2010, algorithm 1): arm ``a`` has ``A_a = ridge * I + sum x x^T`` and
``b_a = sum r x``; its estimate is ``theta_a = A_a^-1 b_a``. We keep ``A_a^-1`` directly and
update it with the Sherman-Morrison identity, O(d^2) per reward instead of a d x d solve.
Context vectors are the caller's features; include a constant 1 if an intercept is wanted.
"""

from __future__ import annotations

import numpy as np

from .base import BanditPolicy


class LinearPolicy(BanditPolicy):
    contextual = True

    def __init__(self, n_features: int, ridge: float = 1.0) -> None:
        super().__init__()
        if n_features < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
        if ridge <= 0:
            raise ValueError(f"ridge must be > 0, got {ridge}")
        self.n_features = int(n_features)
        self.ridge = float(ridge)
        self.a_inverse = np.empty((0, n_features, n_features))
        self.b = np.empty((0, n_features))
        self.version = 0

    def _grow(self, n_arms: int) -> None:
        extra = n_arms - len(self.b)
        d = self.n_features
        prior = np.broadcast_to(np.eye(d) / self.ridge, (extra, d, d))
        self.a_inverse = np.concatenate([self.a_inverse, prior])
        self.b = np.concatenate([self.b, np.zeros((extra, d))])
        self.version += 1

    def _check_context(self, context: np.ndarray | None) -> np.ndarray:
        if context is None:
            raise ValueError(f"{type(self).__name__} needs a context vector of {self.n_features} features")
        x = np.asarray(context, dtype=float)
        if x.shape != (self.n_features,):
            raise ValueError(f"context must have shape ({self.n_features},), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("context features must be finite numbers")
        return x

    def _update(self, index: int, reward: float, x: np.ndarray | None) -> None:
        a_inv = self.a_inverse[index]
        ax = a_inv @ x
        a_inv -= np.outer(ax, ax) / (1.0 + x @ ax)
        self.b[index] += reward * x
        self.version += 1

    def _add_reward(self, index: int, reward: float, x: np.ndarray | None) -> None:
        self.b[index] += reward * x
        self.version += 1

    def theta(self, arm: str) -> np.ndarray:
        """The ridge estimate of ``arm``'s reward coefficients."""
        i = self.add_arm(arm)
        return self.a_inverse[i] @ self.b[i]

    def mean_and_width(self, indices: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per arm: predicted reward ``x . theta`` and ``sqrt(x^T A^-1 x)``."""
        a_inv = self.a_inverse[indices]
        theta = np.einsum("kij,kj->ki", a_inv, self.b[indices])
        width = np.sqrt(np.maximum(np.einsum("i,kij,j->k", x, a_inv, x), 0.0))
        return theta @ x, width
