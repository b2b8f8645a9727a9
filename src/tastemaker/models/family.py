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

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp


class ModelFamily:
    """Tiny base class: subclasses implement ``fit`` and ``score``; the rest is shared.

    Capabilities are declared on the class, never probed: ``needs_items`` (fit needs the
    item metadata), ``uses_timestamps`` (fit takes ``timestamps=``, each cell's event time),
    ``data_scaled_params`` (params that scale with the amount of data, for subsampled fits),
    :meth:`fits` (the size limit) and :meth:`item_vectors` (a vector per fitted item).
    """

    name: ClassVar[str] = "base"
    needs_items: ClassVar[bool] = False
    uses_timestamps: ClassVar[bool] = False
    data_scaled_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any):
        self.params = params
        self.n_items = 0

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "ModelFamily":
        raise NotImplementedError

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def fits(self, n_items: int) -> bool:
        """Whether a catalogue of ``n_items`` is within this family's size limit."""
        return True

    def item_vectors(self) -> np.ndarray | None:
        """A vector per fitted item (n_items, d) float32 for similarity and diversity, or None."""
        return None

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
