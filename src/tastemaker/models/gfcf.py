"""GF-CF (Shen et al., CIKM 2021): graph-filter collaborative filtering in closed form.

The user-item graph is normalised by degree, ``R~ = D_U^-1/2 R D_I^-1/2`` (``R`` binary),
and a user's row is passed through two filters of the item-item graph:

* the **linear filter** ``P = R~^T R~``: item co-occurrence where a heavy user's and a
  popular item's votes count less (close to item-kNN with cosine-like weights);
* the **ideal low-pass filter** ``D_I^-1/2 V V^T D_I^1/2``, ``V`` the ``factors`` leading
  right singular vectors of ``R~``: the smooth, low-rank part of the graph (close to a
  degree-normalised PureSVD).

``score(rows) = rows_binary @ (P + alpha * D_I^-1/2 V V^T D_I^1/2)``. Both filters fold into
one dense item-item matrix at fit time, so serving is EASE's ``rows @ B``: a new or changed
user is scored from their current row, with no retraining. Nothing is learned by gradient
descent; the only randomness is the start vector of the sparse SVD, fixed by ``seed``.

``V`` spans whole clusters of tied singular values (:mod:`tastemaker.models.spectral`): when
``sigma_factors`` equals ``sigma_{factors+1}`` a rank cut between them is not unique, the
solver's pick of basis depends on the machine's BLAS, and so did the scores; the projector
onto the whole cluster does not. So ``V`` may have a few more than ``factors`` columns.

Why it is in the default blend: its errors differ from the EASE and ALS families' (a
normalised graph filter, not a regression), so the blend gains where they disagree. On
ML-100k protocol (a) it is weaker alone (nDCG@10 0.46 against their 0.49) but lifts the
hybrid's validation blend from 0.4114 to 0.4134 (three seeds, the hybrid's own folds).

Two representations of the same scores. Up to ``dense_below`` items (and ``max_items``) both
filters fold into one dense item-item matrix ``B`` (``4 * n_items^2`` bytes; 20,000 items:
1.6 GB), built in float64 up to ``float64_below`` items. Above that the fit keeps them apart:
the linear filter as the sparse ``P`` (one entry per co-occurring item pair) and the low-pass
filter as two thin factors, ``U = alpha * D_I^-1/2 V`` and ``W = V^T D_I^1/2``, and scores
``rows @ P + (rows @ U) @ W``. No catalogue is too large for it, and on the generator's data
at 598 users x 12,727 items it fitted in 0.7 s instead of 8.1 s with the same nDCG@10
(0.3204 / 0.3205 on a 75/25 split: float32 rounding apart, the scores are equal); its memory
follows the co-occurring pairs (16M at 40k users x 84k items: ~130 MB) instead of items^2.

Params (defaults in ``__init__``, tuned on validation splits of ML-100k training data):
- ``factors``: rank of the ideal low-pass filter (capped below the
  matrix's smaller side).
- ``alpha``: weight of the ideal low-pass filter (0: linear filter only).
- ``max_items``, ``dense_below``: the dense ``B`` is built up to the smaller of the two,
  the factored form above it (``dense_below=0``: always factored); ``seed``: the sparse
  SVD's start vector.
- ``float64_below``: build the filters in float64 for catalogues up to
  this size, in float32 above it (half the fit memory), as EASE does.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from tastemaker.models.cost_model import Cost, Shape, dense_seconds, gemm_seconds, sparse_product_seconds, svd_seconds
from tastemaker.models.family import ModelFamily, as_fit_rows, to_width
from tastemaker.models.spectral import leading_subspace


def inverse_sqrt_degrees(counts: np.ndarray) -> np.ndarray:
    """``1 / sqrt(degree)``, with 0 for nodes of degree 0 (they stay unconnected)."""
    counts = np.asarray(counts, np.float64)
    out = np.zeros_like(counts)
    np.divide(1.0, np.sqrt(counts), out=out, where=counts > 0)
    return out


class GraphFilterCF(ModelFamily):
    """Degree-normalised linear filter plus ideal low-pass filter of the item graph."""

    name = "gfcf"
    data_scaled_params: ClassVar[tuple[str, ...]] = ()

    # chosen for the blend, its only use in the default pipeline: on the hybrid's own validation
    # of protocol (a) (three seeds), 32 factors scored 0.4134 (alpha 0.5 / 2: 0.4132 / 0.4136,
    # a tie), 16 / 24 / 48 / 64 / 96 factors 0.4123 / 0.4129 / 0.4131 / 0.4125 / 0.4118,
    # without gfcf 0.4114.
    def __init__(self, factors: int = 32, alpha: float = 1.0, max_items: int = 20_000, seed: int = 0,
                 float64_below: int = 8_192, dense_below: int = 8_192):
        if int(factors) < 0:
            raise ValueError("factors must be >= 0")
        self.factors = int(factors)
        self.alpha = float(alpha)
        self.max_items = int(max_items)
        self.seed = int(seed)
        self.float64_below = int(float64_below)
        self.dense_below = int(dense_below)
        self.B = np.zeros((0, 0), np.float32)
        self.P: sp.csr_matrix | None = None  # the factored form (above dense_below)
        self.U = self.W = np.zeros((0, 0), np.float32)

    def dense(self, n_items: int) -> bool:
        """Whether a catalogue of ``n_items`` gets the dense ``B`` (else the factored form)."""
        return n_items <= min(self.dense_below, self.max_items)

    def cost(self, shape: Shape) -> Cost:
        """Dense: ``items^2`` work and memory; factored: the co-occurring pairs and thin factors."""
        n, k = shape.items, self.factors
        seconds = svd_seconds(shape, k) if self.alpha and k else 0.0
        if self.dense(n):
            itemsize = 8 if n <= self.float64_below else 4
            n2 = float(n) * n
            seconds += sparse_product_seconds(shape.pairs) + dense_seconds(4 * n2) + gemm_seconds(n, k, n)
            return Cost(seconds, n2 * (2 * itemsize + 4), 4 * n2)
        pairs = min(shape.pairs, float(n) * n)
        seconds += sparse_product_seconds(2 * shape.pairs)
        return Cost(seconds, 24.0 * pairs + 24.0 * n * k, 8.0 * pairs + 8.0 * n * k)

    def stand_ins(self, shape: Shape) -> list[ModelFamily]:
        """The factored form: the same scores without an ``items^2`` matrix."""
        return [self.clone(dense_below=0)] if self.dense(shape.items) else []

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "GraphFilterCF":
        X = sp.csr_matrix(interactions, dtype=np.float32)
        self.n_items = n = X.shape[1]
        dense = self.dense(n)
        R = (X > 0).astype(np.float64 if dense and n <= self.float64_below else np.float32)
        du = inverse_sqrt_degrees(np.asarray(R.sum(axis=1)).ravel()).astype(R.dtype)
        di = inverse_sqrt_degrees(np.asarray(R.sum(axis=0)).ravel()).astype(R.dtype)
        Rn = sp.csr_matrix(sp.diags(du) @ R @ sp.diags(di))
        linear = (Rn.T @ Rn).tocsr()
        k = min(self.factors, min(Rn.shape) - 1)
        U = np.zeros((n, 0), R.dtype)
        W = np.zeros((0, n), R.dtype)
        if self.alpha and k > 0 and Rn.nnz:
            _, vt = leading_subspace(Rn, k, seed=self.seed)
            # D_I^-1/2 V V^T D_I^1/2: the sqrt degree is 1 / di where the item has any degree
            sqrt_deg = np.divide(1.0, di, out=np.zeros_like(di), where=di > 0)
            U, W = (self.alpha * di[:, None] * vt.T).astype(R.dtype), vt * sqrt_deg[None, :]
        if dense:
            B = linear.toarray()
            if U.shape[1]:
                B += U @ W  # one n^2 temporary
            self.B, self.P = np.ascontiguousarray(B, dtype=np.float32), None
            self.U = self.W = np.zeros((0, 0), np.float32)
        else:
            self.B = np.zeros((0, 0), np.float32)
            self.P = sp.csr_matrix(linear, dtype=np.float32)
            self.U, self.W = np.ascontiguousarray(U, np.float32), np.ascontiguousarray(W, np.float32)
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        R = as_fit_rows(rows, self.n_items)
        R.data = (R.data > 0).astype(np.float32)
        if getattr(self, "P", None) is None:
            return to_width(R @ self.B, rows.shape[1])
        S = (R @ self.P).toarray()
        if self.U.shape[1]:
            S += (R @ self.U) @ self.W
        return to_width(S, rows.shape[1])
