"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) through ``implicit``, with real-time fold-in.

Training runs ``implicit.cpu.als.AlternatingLeastSquares`` (the CPU class: no GPU is ever
used) with BLAS pinned to one thread by threadpoolctl, as implicit recommends; implicit's own
OpenMP threads (``num_threads``, 0 = all cores) parallelise over users/items.

Fold-in (what makes it real time): ``score(rows)`` does not look up stored user factors; it
solves each row's user factors from the item factors ``Y`` (implicit's ``recalculate_user``
path, the exact Cholesky solve of its Cython ``_least_squares``)::

    x_u = (Y^T C_u Y + reg I)^-1 Y^T C_u p_u,   C_u = I + alpha * diag(r_u),  p_u = [r_u > 0]

so a user who was never seen in training, or whose latest click is not in the training
matrix, is personalised without retraining; ``recalculate_user(rows)`` returns those factors
(the fitted users' own factors are not kept: serving never looks them up). Negative weights (dislikes) follow
implicit's convention: confidence ``|c|`` with preference 0.

Params (each class's ``__init__`` holds the defaults: the values tuned on validation splits
carved from ML-100k training data, never on a test split):
- ``factors``: latent dimension.
- ``regularization``: L2 on the factors (implicit's absolute scale).
- ``alpha``: confidence multiplier of observed interactions.
- ``iterations``: ALS sweeps.
- ``random_state``: seed of the factor initialisation (fits are deterministic).
- ``num_threads``: implicit's threads for fit and batch fold-in (0 = all cores).
- ``use_cg``: conjugate-gradient solver during fit (implicit's default).
- ``content_weight``: item metadata as side information: the rows of
  ``w * V^T`` (one pseudo-user per metadata feature) are stacked under the interaction
  matrix at fit, so the item factors also explain shared metadata (see
  :mod:`.side_information`); needs ``items`` at fit. 0 is plain ALS.

State at serving time is plain arrays: ``item_factors`` (n_items, factors) float32 and
``YtY`` (factors, factors) float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from tastemaker.models.cost_model import Cost, Shape, als_bytes, als_seconds
from tastemaker.models.family import ModelFamily, as_fit_rows, to_width
from tastemaker.models.side_information import content_rows


def fold_in(rows: sp.csr_matrix, item_factors: np.ndarray, YtY: np.ndarray, regularization: float,
            alpha: float, num_threads: int = 0) -> np.ndarray:
    """Least-squares user factors for each row (batch, factors) float32, given item factors.

    implicit's ``AlternatingLeastSquares.recalculate_user`` (its Cython kernel), except that
    in a small batch (the serving case) a row with more than ``factors / 2`` items is solved
    with one BLAS matrix product and a Cholesky solve (:func:`fold_in_dense`): the same
    system, 3x faster for a 700-item history (1.5 ms -> 0.45 ms at 128 factors), where the
    kernel's per-item updates cost more than one GEMM."""
    from implicit.cpu import _als

    R = sp.csr_matrix(rows, dtype=np.float32)
    out = np.zeros((R.shape[0], item_factors.shape[1]), dtype=np.float32)
    if R.shape[0] == 0 or R.nnz == 0:
        return out
    data = (R.data * np.float32(alpha)).astype(np.float32) if alpha != 1.0 else R.data.astype(np.float32)
    counts = np.diff(R.indptr)
    dense = (counts > item_factors.shape[1] // 2) & (R.shape[0] <= 16)
    if not dense.all():
        light = R if not dense.any() else R[np.flatnonzero(~dense)]  # row slicing keeps entry order
        light_data = data if light is R else data[np.repeat(~dense, counts)]
        part = np.zeros((light.shape[0], out.shape[1]), np.float32)
        _als._least_squares(YtY, light.indptr.astype(np.int32), light.indices.astype(np.int32), light_data,
                            part, item_factors, np.float32(regularization), num_threads=num_threads)
        out[~dense] = part
    for u in np.flatnonzero(dense):
        lo, hi = R.indptr[u], R.indptr[u + 1]
        out[u] = fold_in_dense(R.indices[lo:hi], data[lo:hi], item_factors, YtY, regularization)
    return out


def fold_in_dense(items: np.ndarray, confidence: np.ndarray, item_factors: np.ndarray, YtY: np.ndarray,
                  regularization: float) -> np.ndarray:
    """One row's factors from ``(Y^T C_u Y + reg I) x = Y^T C_u p_u`` built with one GEMM.

    ``confidence`` is alpha times the row's weights; a negative one (a dislike) counts with
    its absolute value and a preference of 0, as in implicit."""
    Yu = item_factors[items]
    c = np.abs(confidence).astype(np.float32)
    A = YtY + (Yu.T * (c - np.float32(1.0))) @ Yu
    A[np.diag_indices_from(A)] += np.float32(regularization)
    b = Yu.T @ np.where(confidence > 0, c, np.float32(0.0))
    return scipy.linalg.solve(A, b, assume_a="pos", check_finite=False).astype(np.float32)


def fold_in_numpy(rows: sp.csr_matrix, item_factors: np.ndarray, regularization: float,
                  alpha: float) -> np.ndarray:
    """Reference fold-in in plain numpy (float64): ``(Y^T C_u Y + reg I)^-1 Y^T C_u p_u``."""
    R = sp.csr_matrix(rows, dtype=np.float64)
    Y = item_factors.astype(np.float64)
    f = Y.shape[1]
    base = Y.T @ Y + regularization * np.eye(f)
    out = np.zeros((R.shape[0], f))
    for u in range(R.shape[0]):
        idx = R.indices[R.indptr[u]:R.indptr[u + 1]]
        c = alpha * R.data[R.indptr[u]:R.indptr[u + 1]]
        if not len(idx):
            continue
        p = (c > 0).astype(np.float64)
        c = np.abs(c)
        Yu = Y[idx]
        A = base + (Yu * (c - 1.0)[:, None]).T @ Yu
        b = Yu.T @ (c * p)
        out[u] = np.linalg.solve(A, b)
    return out.astype(np.float32)


class ALS(ModelFamily):
    """implicit's ALS with real-time least-squares fold-in of every scored row."""

    name = "als"

    # reg 40 / alpha 4 at 128 factors: what the temporal protocols of ML-100k (global time
    # cut, leave-last-out) validate best (session_als's reg 60 / alpha 6 wins on the random one)
    def __init__(self, factors: int = 128, regularization: float = 40.0, alpha: float = 4.0,
                 iterations: int = 15, random_state: int = 0, num_threads: int = 0,
                 use_cg: bool = True, content_weight: float = 0.0):
        self.content_weight = float(content_weight)
        self.factors = int(factors)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = int(iterations)
        self.random_state = random_state
        self.num_threads = int(num_threads)
        self.use_cg = bool(use_cg)
        self.item_factors = np.zeros((0, self.factors), np.float32)
        self.YtY = np.zeros((self.factors, self.factors), np.float32)

    def implicit_model(self):
        """A fresh ``implicit.cpu.als.AlternatingLeastSquares`` with this family's params
        (construct it under ``threadpool_limits(1, "blas")``, as :meth:`fit` does)."""
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=self.factors, regularization=self.regularization, alpha=self.alpha,
            iterations=self.iterations, random_state=self.random_state,
            num_threads=self.num_threads, use_cg=self.use_cg, dtype=np.float32)

    def fit_rows(self, shape: Shape) -> tuple[float, float]:
        """(rows, cells) of the matrix implicit fits on ``shape``: users, items and the item
        metadata's pseudo-users."""
        content_rows, content_cells = shape.content() if self.content_weight else (0.0, 0.0)
        return shape.users + shape.items + content_rows, shape.nnz + content_cells

    def cost(self, shape: Shape) -> Cost:
        rows, cells = self.fit_rows(shape)
        return Cost(als_seconds(rows, cells, self.factors, self.iterations), als_bytes(rows, cells, self.factors),
                    4.0 * shape.items * self.factors)

    def stand_ins(self, shape: Shape) -> list[ModelFamily]:
        """64 factors (the reference fit's), then no item-metadata rows: each a fraction of the cost."""
        out: list[ModelFamily] = []
        if self.factors > 64:
            out.append(self.clone(factors=64))
        if self.content_weight and shape.has_items:
            out.append(self.clone(factors=min(self.factors, 64), content_weight=0.0))
        return out

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "ALS":
        X = interactions if (sp.isspmatrix_csr(interactions) and interactions.dtype == np.float32) \
            else sp.csr_matrix(interactions, dtype=np.float32)
        self.n_items = X.shape[1]
        side = content_rows(items, self.n_items, self.content_weight)
        fitted = sp.vstack([X, side], format="csr", dtype=np.float32) if side.shape[0] else X
        with threadpool_limits(1, "blas"):
            model = self.implicit_model()
            model.fit(fitted, show_progress=False)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self.YtY = (self.item_factors.T @ self.item_factors).astype(np.float32)
        return self

    def recalculate_user(self, rows: sp.csr_matrix) -> np.ndarray:
        """Fold-in: user factors solved from ``rows`` (batch, n_items) -> (batch, factors).

        A single row (1, n_items) gives (1, factors). Nothing is stored."""
        R = as_fit_rows(rows, self.n_items)
        return fold_in(R, self.item_factors, self.YtY, self.regularization, self.alpha,
                       self.num_threads if R.shape[0] > 16 else 1)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        U = self.recalculate_user(rows)
        return to_width(U @ self.item_factors.T, rows.shape[1])
