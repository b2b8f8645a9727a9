"""The contract of a learned model family (issue: models, evaluation, registry).

Every family maps a user's interaction row to scores over all items. Taking the row as
input, instead of a user id learned at fit time, is what makes every family real-time:
the serving path builds the row from the user's latest events and asks for scores, so a
new or changed user is personalised without retraining (ALS solves the user's factors from
the row; EASE and item-kNN multiply the row by an item-item matrix; popularity ignores it).

Shapes (exact):
- ``interactions``: ``scipy.sparse.csr_matrix`` of shape (n_users, n_items), float32,
  non-negative confidence weights (see ``training.interactions``).
- ``score(rows)``: ``rows`` is a csr_matrix (batch, n_items); returns a dense float32 ndarray
  (batch, n_items). Higher is better. Items never seen at fit time score 0 (or a content score).
- ``recommend(row, n, exclude)``: returns ``(item_indices int64 (k,), scores float32 (k,))``,
  best first, ``k <= n``, excluding ``exclude`` (and, by default, the row's own items).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp


class ModelFamily:
    """Tiny base class: subclasses implement ``fit`` and ``score``; the rest is shared."""

    name: ClassVar[str] = "base"

    def __init__(self, **params: Any):
        self.params = params
        self.n_items = 0

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "ModelFamily":
        raise NotImplementedError

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def recommend(self, row: sp.csr_matrix, n: int, exclude: np.ndarray | None = None,
                  filter_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        scores = self.score(row)[0].astype(np.float32, copy=True)
        if filter_seen:
            scores[row.indices] = -np.inf
        if exclude is not None and len(exclude):
            scores[exclude] = -np.inf
        n = min(n, int(np.isfinite(scores).sum()))
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top.astype(np.int64), scores[top]

    def save(self, path: Path) -> None:
        with open(path, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(path: Path) -> "ModelFamily":
        with open(path, "rb") as fh:
            return pickle.load(fh)


# --- shared helpers for the families (added with the model families; small and generic) ---

def as_fit_rows(rows: sp.spmatrix, n_fit: int) -> sp.csr_matrix:
    """``rows`` as a float32 csr with exactly ``n_fit`` columns.

    Columns past ``n_fit`` (items added to the catalogue after fit) are dropped, a narrower
    matrix is padded with empty columns: the families only know the items they were fitted on.
    """
    rows = sp.csr_matrix(rows, dtype=np.float32)
    if rows.shape[1] > n_fit:
        rows = rows[:, :n_fit]
    elif rows.shape[1] < n_fit:
        rows = sp.csr_matrix((rows.data, rows.indices, rows.indptr), shape=(rows.shape[0], n_fit))
    rows.sum_duplicates()
    return rows


def to_width(scores: np.ndarray, width: int) -> np.ndarray:
    """Dense float32 scores (batch, width): new items past the fitted width score 0."""
    scores = np.asarray(scores, dtype=np.float32)
    if scores.shape[1] == width:
        return np.ascontiguousarray(scores)
    if scores.shape[1] > width:
        return np.ascontiguousarray(scores[:, :width])
    out = np.zeros((scores.shape[0], width), np.float32)
    out[:, :scores.shape[1]] = scores
    return out
