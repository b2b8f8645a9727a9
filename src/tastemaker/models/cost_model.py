"""What a fit costs: predicted seconds and bytes from the data's shape, and the budget they must fit.

Training time and memory are decided by a few operations whose cost follows the shape of the
interaction matrix (``users`` x ``items`` with ``nnz`` cells):

- **ALS sweeps** (implicit's conjugate-gradient solver): per iteration, ``ALS_ROW`` seconds per
  row (user, item or pseudo-user) and factor, plus ``ALS_CELL`` seconds per stored cell;
- **a dense SPD inverse** (EASE): ``INVERSE[itemsize] * items^3``;
- **a sparse product** such as the co-occurrence ``X^T X``: ``PAIR`` seconds per product term,
  ``pairs = sum_u n_u^2`` for ``X^T X`` (``n_u``: the cells of user ``u``);
- **dense element work** (filling, copying and dividing an ``items^2`` matrix): ``DENSE`` per element;
- **a truncated sparse SVD** of rank ``k``: ``SVD * (nnz + users + items) * k``;
- **dense scores**: scoring, normalising and ranking a ``rows x items`` block, ``SCORE`` per element.

The rates were measured on the development box (AMD EPYC, 2 vCPUs, numpy/OpenBLAS, a quiet
machine, 2026-12-04) by ``bench/train_scale.py --calibrate``, which measures each operation at
two or more sizes and prints these constants; its figures, at the sizes it uses, are in the
comments. A busier or faster machine scales every prediction alike, so the *choices* (which
member fits the budget) depend only on ratios, which is why the budget is expressed in
reference ALS fits (:func:`als_reference_seconds`, raw implicit ALS with 64 factors and 15
iterations, the issue's yardstick) with a floor in seconds for small data, where fixed costs
dominate whatever is chosen.

Each family declares its cost (:meth:`.family.ModelFamily.cost`) in terms of these primitives,
and the hybrid plans its members and validation effort with them (:mod:`.hybrid_plan`).

Example:
    >>> shape = Shape.estimate(users=1_000, items=2_000, nnz=50_000)
    >>> dense_inverse_seconds(4_000, 8) > dense_inverse_seconds(2_000, 8)
    True
    >>> Budget().seconds(shape) >= Budget().min_seconds
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

GIB = 1 << 30

# --- calibrated rates (seconds), bench/train_scale.py --calibrate --------------------------
#: ALS per iteration: per row and factor (least squares over 6 random matrices of 7k..80k rows,
#: 0.1M..1M cells, 32..128 factors; fit within 7%; raw implicit at 64 factors on the
#: generator's 598 x 12,727 / 58,650-cell matrix: predicted 0.79 s, measured 0.80 s).
ALS_ROW = 4.8e-8
#: ALS per iteration and stored cell (same fit; the per-cell cost hardly depends on factors).
ALS_CELL = 2.1e-7
#: Cholesky inverse (potrf + potri) per n^3, float64 / float32 (n = 2,000 and 4,000: 0.074 /
#: 0.053 ns and 0.036 / 0.025 ns; the larger size's rate, which large catalogues approach).
INVERSE = {8: 5.3e-11, 4: 2.5e-11}
#: Sparse matrix product per term (X^T X at 8M and 42M terms: 30 and 23 ns).
PAIR = 3.0e-8
#: Dense element work per element (toarray + astype of 36M elements: 8.5 ns; a transposed copy 14 ns).
DENSE = 1.0e-8
#: Dense matrix product per multiply-add (OpenBLAS sgemm on 2 cores, ~14 GFlop/s).
GEMM = 7.0e-11
#: Truncated sparse SVD per (nnz + rows + columns) x rank (ARPACK through models.spectral: 31..37 ns).
SVD = 3.6e-8
#: Dense scores per element: a member's score block, its normalisation and top-k (34 ns).
SCORE = 3.4e-8
#: TF-IDF of the item texts per item (1.1 s for 12,727 synthetic items, 4 s for 83,714).
TEXT = 6.0e-5

#: Content pseudo-users per item and their cells per item, when item metadata is given and the
#: shape does not say (the generator's catalogues: 1.0..1.05 features and 19.5 cells per item;
#: ML-100k: 1.46 and 15).
CONTENT_ROWS_PER_ITEM = 1.1
CONTENT_CELLS_PER_ITEM = 20.0
#: Session rows per cell when event times are given and the shape does not say (the
#: generator's data at a 60 s gap: 0.59..0.68; ML-100k: 0.20).
SESSIONS_PER_CELL = 0.7


@dataclass(frozen=True)
class Shape:
    """What the cost of a fit depends on.

    ``pairs`` is ``sum_u n_u^2`` (the terms of ``X^T X``; estimated as ``2 * nnz^2 / users``
    when unknown); ``sessions`` maps a session gap (seconds) to the number of sessions it
    splits the log into (absent gaps are estimated, :meth:`session_rows`); ``has_items`` /
    ``has_times``: whether item metadata / event times are given to the fit.
    """

    users: int
    items: int
    nnz: int
    pairs: float = 0.0
    sessions: tuple[tuple[float, int], ...] = ()
    has_items: bool = True
    has_times: bool = True

    @classmethod
    def estimate(cls, users: int, items: int, nnz: int, **known: Any) -> "Shape":
        """A shape from its three sizes (what is not ``known`` is estimated)."""
        pairs = known.pop("pairs", 2.0 * nnz * nnz / max(users, 1))
        return cls(int(users), int(items), int(nnz), float(pairs), **known)

    @classmethod
    def of(cls, X: sp.spmatrix, items: Any = None, timestamps: sp.spmatrix | None = None,
           gaps: tuple[float, ...] = (0.0, 60.0)) -> "Shape":
        """The shape of interaction matrix ``X`` (and of its event times, counted per gap)."""
        X = sp.csr_matrix(X)
        n = np.diff(X.indptr).astype(np.float64)
        sessions: tuple[tuple[float, int], ...] = ()
        if timestamps is not None and X.nnz:
            sessions = tuple((float(g), count_sessions(timestamps, g)) for g in gaps)
        return cls(X.shape[0], X.shape[1], int(X.nnz), float((n * n).sum()), sessions,
                   items is not None, timestamps is not None)

    def session_rows(self, gap: float) -> float:
        """Sessions at ``gap``: counted when the shape has that gap, else estimated."""
        if not self.has_times:
            return 0.0
        known = dict(self.sessions)
        if gap in known:
            return float(known[gap])
        wider = [c for g, c in self.sessions if g <= gap]  # a wider gap splits less often
        return float(min(wider)) if wider else SESSIONS_PER_CELL * self.nnz

    def content(self) -> tuple[float, float]:
        """(pseudo-user rows, their cells) of the item metadata (0, 0 without items)."""
        if not self.has_items:
            return 0.0, 0.0
        return CONTENT_ROWS_PER_ITEM * self.items, CONTENT_CELLS_PER_ITEM * self.items


def count_sessions(timestamps: sp.spmatrix, gap: float) -> int:
    """Sessions in ``timestamps`` (csr of event times per cell): a user's cells in time order
    split where two consecutive times are more than ``gap`` apart (as
    :func:`.session_ease.session_matrix` splits them)."""
    c = sp.coo_matrix(timestamps)
    if c.nnz == 0:
        return 0
    order = np.lexsort((c.data, c.row))
    u, t = c.row[order], c.data[order]
    return int(1 + np.count_nonzero((u[1:] != u[:-1]) | (t[1:] - t[:-1] > gap)))


@dataclass(frozen=True)
class Cost:
    """A fit's predicted ``seconds``, its peak memory while fitting (``peak_bytes``) and the
    memory the fitted model keeps (``model_bytes``)."""

    seconds: float
    peak_bytes: float
    model_bytes: float = 0.0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.seconds + other.seconds, max(self.peak_bytes, other.peak_bytes),
                    self.model_bytes + other.model_bytes)


# --- primitives ----------------------------------------------------------------------------

def als_seconds(rows: float, cells: float, factors: int, iterations: int) -> float:
    """implicit's conjugate-gradient ALS over ``rows`` (users, items and pseudo-users) and
    ``cells`` stored cells."""
    return iterations * (ALS_ROW * rows * factors + ALS_CELL * cells)


def als_bytes(rows: float, cells: float, factors: int) -> float:
    """ALS's peak: both factor matrices (float32) and the matrix with its transpose (csr, 3 copies)."""
    return 4.0 * rows * factors * 2 + 12.0 * cells * 3


def dense_inverse_seconds(n: int, itemsize: int) -> float:
    """Cholesky inverse of a dense ``n x n`` SPD matrix."""
    return INVERSE.get(itemsize, INVERSE[8]) * float(n) ** 3


def sparse_product_seconds(terms: float) -> float:
    """A sparse product of ``terms`` multiply-adds (``X^T X``: ``Shape.pairs``)."""
    return PAIR * terms


def dense_seconds(elements: float) -> float:
    """Dense element work over ``elements`` (filling, copying, dividing a matrix)."""
    return DENSE * elements


def gemm_seconds(m: float, k: float, n: float) -> float:
    """A dense ``(m, k) @ (k, n)`` product."""
    return GEMM * m * k * n


def svd_seconds(shape: Shape, rank: int) -> float:
    """A rank-``rank`` truncated SVD of the interaction matrix."""
    return SVD * (shape.nnz + shape.users + shape.items) * max(rank, 1)


def score_seconds(rows: float, items: int) -> float:
    """Dense scores for ``rows`` users over ``items``: scoring, normalising, ranking."""
    return SCORE * rows * items


def als_reference_seconds(shape: Shape) -> float:
    """Raw implicit ALS, 64 factors, 15 iterations, on the interaction matrix: the yardstick."""
    return als_seconds(shape.users + shape.items, shape.nnz, 64, 15)


@dataclass(frozen=True)
class Budget:
    """What one hybrid fit may cost.

    Time: ``als_fits`` reference ALS fits (:func:`als_reference_seconds`), but never less than
    ``min_seconds`` (small data: fixed costs dominate whatever is chosen, and the members the
    defaults were tuned with on ML-100k are kept). Memory: ``memory_bytes`` for the fit's peak
    (a member's fit, the validation scores and the members already fitted).
    """

    als_fits: float = 2.0
    min_seconds: float = 15.0
    memory_bytes: float = 3 * GIB

    def seconds(self, shape: Shape) -> float:
        """The time budget of one hybrid fit on ``shape``."""
        return max(self.als_fits * als_reference_seconds(shape), self.min_seconds)
