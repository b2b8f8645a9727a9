"""Bayesian Personalized Ranking (Rendle et al. 2009) through ``implicit``, with fold-in.

Training runs ``implicit.cpu.bpr.BayesianPersonalizedRanking`` (CPU). Its item factors have
``factors + 1`` columns (the last is the item bias; implicit fixes the user's last column to
1). Serving folds each row in by regularised least squares on those item factors, the same
closed form as ALS (``x_u = (Y^T C_u Y + reg I)^-1 Y^T C_u p_u``, see :func:`.als.fold_in`)
with ``fold_in_regularization`` and ``fold_in_alpha``, so unseen and changed users are
scored without retraining (the SGD user factors are not kept: serving never looks them up).

Params (defaults in ``__init__``, tuned on validation splits of ML-100k training data):
- ``factors``, ``learning_rate``, ``regularization``, ``iterations``: implicit's.
- ``random_state``: the seed of implicit's initialisation and sampling.
- ``num_threads``: implicit's BPR is Hogwild SGD, deterministic only on one
  thread; raise it for speed when reproducibility does not matter.
- ``fold_in_regularization``, ``fold_in_alpha``: the fold-in's ``reg`` and ``alpha``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from tastemaker.models.als import fold_in
from tastemaker.models.family import ModelFamily, as_fit_rows, to_width


class BPR(ModelFamily):
    """implicit's BPR; scoring folds rows in by least squares on the item factors."""

    name = "bpr"

    def __init__(self, factors: int = 64, learning_rate: float = 0.01, regularization: float = 0.01,
                 iterations: int = 50, random_state: int = 0, num_threads: int = 1,
                 fold_in_regularization: float = 1.0, fold_in_alpha: float = 5.0):
        self.factors = int(factors)
        self.learning_rate = float(learning_rate)
        self.regularization = float(regularization)
        self.iterations = int(iterations)
        self.random_state = random_state
        self.num_threads = int(num_threads)
        self.fold_in_regularization = float(fold_in_regularization)
        self.fold_in_alpha = float(fold_in_alpha)
        self.item_factors = np.zeros((0, self.factors + 1), np.float32)
        self.YtY = np.zeros((self.factors + 1, self.factors + 1), np.float32)

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "BPR":
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        X = sp.csr_matrix(interactions, dtype=np.float32)
        X.eliminate_zeros()
        self.n_items = X.shape[1]
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=self.factors, learning_rate=self.learning_rate,
                regularization=self.regularization, iterations=self.iterations,
                random_state=self.random_state, num_threads=self.num_threads)
            if X.nnz:
                # implicit's BPR samples positives from the stored entries: drop dislikes
                pos = X.copy()
                pos.data[pos.data < 0] = 0
                pos.eliminate_zeros()
                model.fit(pos, show_progress=False)
                self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
            else:
                self.item_factors = np.zeros((self.n_items, self.factors + 1), np.float32)
        self.YtY = (self.item_factors.T @ self.item_factors).astype(np.float32)
        return self

    def recalculate_user(self, rows: sp.csr_matrix) -> np.ndarray:
        """Fold-in factors (batch, factors + 1) for ``rows`` (batch, n_items)."""
        R = as_fit_rows(rows, self.n_items)
        return fold_in(R, self.item_factors, self.YtY, self.fold_in_regularization,
                       self.fold_in_alpha, 0 if R.shape[0] > 16 else 1)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        U = self.recalculate_user(rows)
        return to_width(U @ self.item_factors.T, rows.shape[1])
