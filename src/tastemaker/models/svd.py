"""Explicit-rating SVD: baseline biases plus a truncated SVD of the centred ratings.

For data with ratings (MovieLens stars, review scores) the training matrix holds rating
values. Fit:

1. global mean ``mu`` of the stored ratings, item biases ``b_i = sum(r - mu) / (n_i + reg)``
   and user biases ``b_u = sum(r - mu - b_i) / (n_u + reg)`` (shrunk means);
2. the residuals ``r - mu - b_u - b_i`` on the stored entries (zero elsewhere) are
   factorised by a truncated SVD into ``factors`` components, keeping the item basis ``V``
   (n_items, factors; a few more when the cut falls inside a tie of singular values, see
   :mod:`tastemaker.models.spectral`).

Score (fold-in, no stored user state): for a row of ratings ``r_u``, its bias ``b_u`` and
residual ``e_u`` are computed the same way, projected on the item basis and reconstructed:
``score = mu + b_u + b_i + (e_u V) V^T`` -- the predicted rating of every item
(batch, n_items) float32. Rows without ratings get ``mu + b_i``. :meth:`predict` returns
the same numbers. For ranking binary "did interact" targets a rating predictor is weak by
design (it ranks well-liked niche items high); it is a member the hybrid may weight, and
the rating-prediction family of the engine.

Params (defaults in ``__init__``, tuned on validation splits of ML-100k training data):
- ``factors``: SVD rank (capped at ``min(shape) - 1``).
- ``bias_reg``: shrinkage of the bias means.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from tastemaker.models.cost_model import Cost, Shape, dense_seconds, svd_seconds
from tastemaker.models.family import ModelFamily, as_fit_rows, to_width
from tastemaker.models.spectral import leading_subspace


def _segment_sums(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Sum of ``values`` within each compressed row/column (empty segments sum to 0)."""
    c = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    return c[indptr[1:]] - c[indptr[:-1]]


class ExplicitSVD(ModelFamily):
    """Biased truncated SVD of explicit ratings with fold-in scoring."""

    name = "svd"

    def __init__(self, factors: int = 20, bias_reg: float = 5.0):
        self.factors = int(factors)
        self.bias_reg = float(bias_reg)
        self.mu = 0.0
        self.item_bias = np.zeros(0, np.float32)
        self.V = np.zeros((0, 0), np.float32)

    def _user_bias(self, R: sp.csr_matrix) -> np.ndarray:
        counts = np.diff(R.indptr)
        resid = R.data - self.mu - self.item_bias[R.indices]
        sums = _segment_sums(resid, R.indptr)
        return (sums / (counts + self.bias_reg)).astype(np.float64)

    def _residuals(self, R: sp.csr_matrix, b_u: np.ndarray) -> sp.csr_matrix:
        rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
        data = R.data - self.mu - self.item_bias[R.indices] - b_u[rows]
        return sp.csr_matrix((data, R.indices, R.indptr), shape=R.shape)

    def cost(self, shape: Shape) -> Cost:
        """Biases (a few passes over the cells) and a rank-``factors`` sparse SVD."""
        return Cost(svd_seconds(shape, self.factors) + dense_seconds(20.0 * shape.nnz),
                    48.0 * shape.nnz + 8.0 * (shape.users + shape.items) * self.factors,
                    4.0 * shape.items * (self.factors + 1))

    def fit(self, interactions: sp.csr_matrix, items: Any = None) -> "ExplicitSVD":
        # a copy the fit owns: eliminate_zeros compacts index arrays in place, and R (and the
        # residuals built on its arrays) would otherwise share them with the caller's matrix
        R = sp.csr_matrix(interactions, dtype=np.float64, copy=True)
        R.eliminate_zeros()
        self.n_items = R.shape[1]
        self.mu = float(R.data.mean()) if R.nnz else 0.0
        Rc = R.tocsc()
        counts_i = np.diff(Rc.indptr)
        sums_i = _segment_sums(Rc.data - self.mu, Rc.indptr)
        self.item_bias = sums_i / (counts_i + self.bias_reg)
        E = self._residuals(R, self._user_bias(R))
        E.eliminate_zeros()  # binary input leaves no residual at all: nothing to factorise
        k = min(self.factors, min(R.shape) - 1)
        if k >= 1 and E.nnz:
            # whole tied clusters at the cut: a basis chosen inside a tie is the solver's (and
            # the machine's) pick, the span of the whole cluster is not (models.spectral)
            _, vt = leading_subspace(E, k)
            self.V = np.ascontiguousarray(vt.T, dtype=np.float32)
        else:
            self.V = np.zeros((self.n_items, 0), np.float32)
        self.item_bias = self.item_bias.astype(np.float32)
        return self

    def predict(self, rows: sp.csr_matrix) -> np.ndarray:
        """Predicted ratings (batch, n_items) for each row of ratings."""
        R = sp.csr_matrix(as_fit_rows(rows, self.n_items), dtype=np.float64)
        b_u = self._user_bias(R)
        E = self._residuals(R, b_u)
        recon = (E @ self.V.astype(np.float64)) @ self.V.T.astype(np.float64)
        return (self.mu + b_u[:, None] + self.item_bias[None, :] + recon).astype(np.float32)

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        return to_width(self.predict(rows), rows.shape[1])
