"""Linear Thompson sampling (Agrawal and Goyal 2013), disjoint per-arm Gaussian posteriors.

Arm ``a``'s coefficients have posterior ``N(theta_a, v^2 A_a^-1)`` (see :mod:`.linear`), so its
sampled reward in context ``x`` is ``N(x . theta_a, v^2 x^T A_a^-1 x)``, independent across arms:
each draw needs one normal per arm, not a d-dimensional one. As in Beta-Bernoulli Thompson, the
propensity is estimated from seeded draws (:mod:`.montecarlo`: standard error at most
``0.5 / sqrt(n_draws)``) and the choice is drawn from that estimate, so the logged propensity is
exactly the probability used. Estimates are cached per (state version, context, arms).

>>> import numpy as np
>>> policy = LinearThompson(n_features=1, scale=0.1)
>>> for _ in range(40):
...     policy.update("a", 1.0, np.ones(1)); policy.update("b", 0.0, np.ones(1))
>>> policy.choose(["a", "b"], np.ones(1), np.random.default_rng(0))
Choice(arm='a', propensity=1.0)
"""

from __future__ import annotations

import numpy as np

from .linear import LinearPolicy
from .montecarlo import argmax_frequencies


class LinearThompson(LinearPolicy):
    name = "linear_thompson"

    def __init__(self, n_features: int, scale: float = 0.25, ridge: float = 1.0,
                 n_draws: int = 500, seed: int = 0) -> None:
        super().__init__(n_features, ridge)
        if scale <= 0:
            raise ValueError(f"scale (posterior standard deviation factor v) must be > 0, got {scale}")
        if n_draws < 1:
            raise ValueError(f"n_draws must be at least 1, got {n_draws}")
        self.scale = float(scale)
        self.n_draws, self.seed = int(n_draws), int(seed)

    def _probabilities(self, indices: np.ndarray, x: np.ndarray | None) -> np.ndarray:
        mean, width = self.mean_and_width(indices, x)
        sd = self.scale * width
        # seeded by the posterior version and the context bytes: a pure function of state + x
        words = np.frombuffer(x.tobytes(), dtype=np.uint32)
        rng = np.random.default_rng([self.seed, self.version, *words.tolist()])
        return argmax_frequencies(lambda g, n: mean + sd * g.standard_normal((n, len(mean))),
                                  self.n_draws, rng)
