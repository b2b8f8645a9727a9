"""Popularity as a :class:`ModelFamily`: the same scores for everyone.

Params (default in ``__init__``):
- ``weighted``: False counts the users who interacted with each item
  (nonzeros per column of the training matrix); True sums the confidence weights instead.

Shapes: ``fit(X)`` with ``X`` csr (n_users, n_items); ``score(rows)`` -> float32
(batch, rows.shape[1]); items past the fitted width score 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from tastemaker.models.cost_model import Cost, Shape, dense_seconds
from tastemaker.models.family import ModelFamily, to_width


class PopularityFamily(ModelFamily):
    """Item popularity on the training matrix (the non-personalised baseline)."""

    name = "popularity"

    def __init__(self, weighted: bool = False):
        self.weighted = bool(weighted)
        self.counts = np.zeros(0, np.float32)

    def cost(self, shape: Shape) -> Cost:
        """One pass over the cells."""
        return Cost(dense_seconds(shape.nnz), 8.0 * shape.nnz, 4.0 * shape.items)

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "PopularityFamily":
        X = sp.csr_matrix(interactions)
        self.n_items = X.shape[1]
        if self.weighted:
            self.counts = np.asarray(X.sum(axis=0), dtype=np.float32).ravel()
        else:
            self.counts = np.bincount(X.indices[X.data != 0], minlength=self.n_items).astype(np.float32)
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        batch = rows.shape[0]
        out = np.broadcast_to(self.counts, (batch, self.n_items))
        return to_width(out, rows.shape[1])
