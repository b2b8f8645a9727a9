"""EASE (Steck, 2019): the closed-form shallow autoencoder.

``P = (X^T X + lambda I)^-1``, ``B = I - P / diag(P)`` (column-wise division), then the
diagonal is zeroed (the constraint ``diag(B) = 0``); ``score(rows) = rows @ B``.

Size limit: ``B`` is a dense (n_items, n_items) float32 matrix and the inversion needs a
dense Gram matrix too, so memory is about ``3 * 4 * n_items^2`` bytes at fit time (float32)
and ``4 * n_items^2`` while serving: 20,000 items -> 1.6 GB for ``B``. Above
``max_items`` :meth:`EASE.fit` raises :class:`CatalogueTooLarge`; the hybrid
catches it and uses :class:`tastemaker.models.itemknn.ItemKNN` (sparse, no n^2 limit)
instead. :meth:`EASE.fits` tells beforehand.

Params (each class's ``__init__`` holds the defaults: the values tuned on validation splits
carved from ML-100k training data, never on a test split):
- ``lambda_``: L2 regularisation added to the Gram diagonal. Its
  best value grows with the amount of data (the Gram entries grow with it), so it is listed
  in ``data_scaled_params`` and scaled by the data ratio when fitted on a subsample.
- ``freq_lambda`` and ``freq_power``:
  frequency-dependent regularisation. Item ``i``'s diagonal penalty is
  ``lambda_ + freq_lambda * (n_i / mean(n))^freq_power``, where ``n_i`` is the number of
  users who interacted with ``i`` in the fitted matrix and ``mean(n)`` the mean over items
  with ``n_i > 0``; popular items are shrunk harder (``freq_power = 1`` is close to the
  dropout-style penalty of Steck 2020, EDLAE). ``freq_lambda`` is data-scaled like
  ``lambda_``; the ratio ``n_i / mean(n)`` is not, so the two keep their meaning on a
  subsample. ``freq_lambda = 0`` is plain EASE.
- ``content_weight``: item metadata as side information, ``w * V V^T``
  added to the Gram matrix (see :mod:`.side_information`); needs ``items`` at fit. It is
  data-scaled like ``lambda_``. 0 is plain EASE.
- ``max_items``: the size limit above (20,000 items: 1.6 GB for ``B``).
- ``float64_below``: invert in float64 for catalogues up to this size
  (exact and cheap), float32 above it (half the memory).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from tastemaker.models.cost_model import (
    Cost,
    Shape,
    dense_inverse_seconds,
    dense_seconds,
    sparse_product_seconds,
)
from tastemaker.models.family import ModelFamily, as_fit_rows, to_width
from tastemaker.models.side_information import add_content_gram


class CatalogueTooLarge(ValueError):
    """A dense item-item family was asked to fit more items than its documented limit."""


class DenseItemItem:
    """The size limit of a family that holds a dense (n_items, n_items) matrix (``max_items``)."""

    max_items: int

    def fits(self, n_items: int) -> bool:
        """Whether a catalogue of ``n_items`` is within the documented size limit."""
        return n_items <= self.max_items

    def check_fits(self, n_items: int) -> None:
        """Raise :class:`CatalogueTooLarge` above the limit (the hybrid uses item-kNN there)."""
        if not self.fits(n_items):
            raise CatalogueTooLarge(
                f"{type(self).__name__} needs a dense {n_items}x{n_items} matrix; the limit is "
                f"max_items={self.max_items} (use ItemKNN above it)")


def _spd_inverse(G: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix via Cholesky (LAPACK potrf/potri),
    in place: no identity matrix or second n^2 buffer is allocated."""
    potrf, potri = scipy.linalg.lapack.get_lapack_funcs(("potrf", "potri"), (G,))
    c, info = potrf(G, lower=False, overwrite_a=True, clean=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix is not positive definite (potrf info={info})")
    P, info = potri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed (info={info})")
    iu = np.triu_indices_from(P, 1)
    P[(iu[1], iu[0])] = P[iu]  # potri fills the upper triangle only
    return P


def ease_from_gram(G: np.ndarray, lambda_: float | np.ndarray) -> np.ndarray:
    """EASE weights from a dense Gram matrix ``G`` (consumed): ``B`` float32 (n, n).

    ``P = (G + diag(lambda))^-1`` (``lambda_`` a scalar or one penalty per item),
    ``B = -P / diag(P)`` column-wise, ``diag(B) = 0``."""
    n = G.shape[0]
    G = np.asfortranarray(G)
    G[np.diag_indices(n)] += lambda_
    try:
        P = _spd_inverse(G.copy() if np.min(lambda_) <= 0 else G)
    except np.linalg.LinAlgError:  # lambda_ == 0 on a singular Gram: pseudo-inverse
        P = np.linalg.pinv(G)
    d = np.diag(P).copy()
    d[d == 0] = 1.0
    P /= -d[None, :]
    P[np.diag_indices(n)] = 0.0
    return np.ascontiguousarray(P, dtype=np.float32)


class EASE(DenseItemItem, ModelFamily):
    """Closed-form item-item linear autoencoder; exact, deterministic, no seed needed."""

    name = "ease"
    data_scaled_params: ClassVar[tuple[str, ...]] = ("lambda_", "freq_lambda", "content_weight")

    def __init__(self, lambda_: float = 800.0, max_items: int = 20_000, float64_below: int = 8_192,
                 freq_lambda: float = 0.0, freq_power: float = 1.0, content_weight: float = 0.0):
        self.lambda_ = float(lambda_)
        self.content_weight = float(content_weight)
        self.freq_lambda = float(freq_lambda)
        self.freq_power = float(freq_power)
        self.max_items = int(max_items)
        self.float64_below = int(float64_below)
        self.B = np.zeros((0, 0), np.float32)

    def gram_seconds(self, shape: Shape) -> float:
        """The dense Gram matrix: ``X^T X`` (sparse, then filled into ``items^2``), plus the
        metadata's ``V V^T``, whose product is nearly dense on real catalogues (shared
        categories and brands; 15 s at 12,727 synthetic items)."""
        n2 = float(shape.items) ** 2
        seconds = sparse_product_seconds(shape.pairs) + dense_seconds(2 * n2)
        if self.content_weight and shape.has_items:
            seconds += sparse_product_seconds(n2) + dense_seconds(n2)
        return seconds

    def cost(self, shape: Shape) -> Cost:
        """Gram, inverse and ``B``: time ``~ items^3``, memory two ``items^2`` matrices at the
        inversion's precision plus ``B`` (float32)."""
        n = shape.items
        itemsize = 8 if n <= self.float64_below else 4
        seconds = self.gram_seconds(shape) + dense_inverse_seconds(n, itemsize) + dense_seconds(3.0 * n * n)
        return Cost(seconds, float(n) * n * (2 * itemsize + 4), 4.0 * n * n)

    def penalties(self, X: sp.csr_matrix) -> float | np.ndarray:
        """The diagonal penalty: ``lambda_``, plus the frequency term when ``freq_lambda`` > 0."""
        if not self.freq_lambda:
            return self.lambda_
        n = np.diff(sp.csc_matrix(X).indptr).astype(np.float64)
        mean = n[n > 0].mean() if (n > 0).any() else 1.0
        return self.lambda_ + self.freq_lambda * (n / mean) ** self.freq_power

    def gram(self, X: sp.csr_matrix, timestamps: sp.csr_matrix | None = None) -> np.ndarray:
        dtype = np.float64 if X.shape[1] <= self.float64_below else np.float32
        return (X.T @ X).toarray().astype(dtype)

    def fit(self, interactions: sp.csr_matrix, items: Any = None, timestamps: sp.csr_matrix | None = None) -> "EASE":
        X = sp.csr_matrix(interactions, dtype=np.float32)
        self.check_fits(X.shape[1])
        self.n_items = X.shape[1]
        G = self.gram(X, timestamps)
        add_content_gram(G, items, self.content_weight)
        self.B = ease_from_gram(G, self.penalties(X))
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        R = as_fit_rows(rows, self.n_items)
        return to_width(R @ self.B, rows.shape[1])
