"""Item-item k-nearest-neighbours with shrunk cosine similarity.

``sim(i, j) = dot(x_i, x_j) / (||x_i|| * ||x_j|| + shrink)`` over the item columns of the
training matrix (confidence weights as given), diagonal zero. For each item ``i`` only its
``k`` most similar items are kept, so ``S`` is a sparse (n_items, n_items) float32 matrix with
at most ``k`` entries per row, and ``score(rows) = rows @ S`` (batch, n_items).

Params:
- ``k`` (int, default 100): neighbours kept per item (row of ``S``); ``None`` keeps all.
- ``shrink`` (float, default 10.0): shrinkage term of the denominator; damps similarities
  supported by few co-occurrences.
- ``block`` (int, default 2048): items per block when building ``S``; memory is
  O(block * n_items), so the catalogue size is not limited by a dense n_items^2 matrix.

This is also the fallback of EASE above its size limit (see ``ease.EASE.max_items``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from tastemaker.models.family import ModelFamily, as_fit_rows, to_width


def shrunk_cosine_topk(X: sp.csr_matrix, k: int | None, shrink: float, block: int = 2048) -> sp.csr_matrix:
    """Sparse top-k shrunk cosine item-item matrix of ``X`` (n_users, n_items)."""
    X = sp.csr_matrix(X, dtype=np.float32)
    n = X.shape[1]
    Xc = X.tocsc()
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0), dtype=np.float64).ravel())
    XT = Xc.T.tocsr()
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(n, start + block)
        G = (XT[start:stop] @ Xc).toarray().astype(np.float64)  # (b, n) co-occurrence
        with np.errstate(divide="ignore", invalid="ignore"):
            S = G / (norms[start:stop, None] * norms[None, :] + shrink)
        S[np.arange(stop - start), np.arange(start, stop)] = 0.0
        S[~np.isfinite(S)] = 0.0
        if k is not None and k < n:
            idx = np.argpartition(-S, k - 1, axis=1)[:, :k]
            v = np.take_along_axis(S, idx, axis=1)
        else:
            idx = np.broadcast_to(np.arange(n), S.shape)
            v = S
        keep = v > 0
        r = np.broadcast_to(np.arange(start, stop)[:, None], idx.shape)
        rows.append(r[keep]); cols.append(idx[keep]); vals.append(v[keep].astype(np.float32))
    return sp.csr_matrix((np.concatenate(vals) if vals else np.zeros(0, np.float32),
                          (np.concatenate(rows) if rows else np.zeros(0, int),
                           np.concatenate(cols) if cols else np.zeros(0, int))),
                         shape=(n, n), dtype=np.float32)


class ItemKNN(ModelFamily):
    """Item-kNN: ``score = rows @ S`` with ``S`` the sparse top-k shrunk cosine matrix."""

    name = "itemknn"

    def __init__(self, k: int | None = 100, shrink: float = 10.0, block: int = 2048):
        super().__init__(k=k, shrink=shrink, block=block)
        self.k = None if k is None else int(k)
        self.shrink = float(shrink)
        self.block = int(block)
        self.S = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "ItemKNN":
        X = sp.csr_matrix(interactions, dtype=np.float32)
        self.n_items = X.shape[1]
        self.S = shrunk_cosine_topk(X, self.k, self.shrink, self.block)
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        R = as_fit_rows(rows, self.n_items)
        out = (R @ self.S).toarray() if self.n_items else np.zeros((R.shape[0], 0), np.float32)
        return to_width(out, rows.shape[1])
