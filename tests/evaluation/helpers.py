"""A reference scorer shared by the evaluation tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.models.family import ModelFamily


class Popularity(ModelFamily):
    """Score = number of training users who interacted with the item (written here, independently
    of models.popularity_family, so the harness checks do not test the code with itself)."""

    def fit(self, m: sp.csr_matrix) -> "Popularity":
        self.counts = np.asarray((m > 0).sum(0), np.float32).ravel()
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.counts, (rows.shape[0], 1))
