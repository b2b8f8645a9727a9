"""Held-out cells of an interaction matrix, and binary nDCG: written once for every user.

The evaluation protocols (:mod:`tastemaker.evaluation.splits`, :mod:`tastemaker.evaluation.metrics`)
and the hybrid's weight validation (:mod:`tastemaker.models.hybrid`) hold out cells and score
lists by these same functions, so a validation figure and a test figure round, break ties
and count hits alike. A leaf utility: numpy and scipy only, usable from any layer.

Each ``*_holdout`` function returns a boolean mask over the cells (``m.data``) of a canonical
csr matrix ``m``; :func:`split_by_mask` turns a mask into ``(kept, held_out)``.

Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> m = sp.csr_matrix(np.ones((2, 4), dtype=np.float32))
    >>> kept, held = split_by_mask(m, random_holdout(m, 0.25, seed=0))
    >>> np.diff(held.indptr).tolist(), kept.nnz + held.nnz
    ([1, 1], 8)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def cell_rows(m: sp.csr_matrix) -> np.ndarray:
    """The row of every stored cell of ``m``, in storage order."""
    return np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))


def take(m: sp.csr_matrix, mask: np.ndarray) -> sp.csr_matrix:
    """Cells of ``m`` where ``mask``; their order is kept, so a canonical ``m`` gives a canonical result."""
    counts = np.bincount(cell_rows(m)[mask], minlength=m.shape[0])
    out = sp.csr_matrix((m.data[mask], m.indices[mask], np.r_[0, np.cumsum(counts)]), shape=m.shape)
    out.has_sorted_indices = True
    return out


def split_by_mask(m: sp.csr_matrix, held_mask: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(kept, held_out)`` from a boolean mask over ``m.data``.

    Example:
        >>> m = sp.csr_matrix(np.array([[1.0, 2.0]], dtype=np.float32))
        >>> [x.toarray().tolist() for x in split_by_mask(m, np.array([False, True]))]
        [[[1.0, 0.0]], [[0.0, 2.0]]]
    """
    return take(m, ~held_mask), take(m, held_mask)


def rank_within_row(m: sp.csr_matrix, sort_key: np.ndarray, tie_key: np.ndarray) -> np.ndarray:
    """0-based rank of every cell within its row, ascending by ``(sort_key, tie_key)``."""
    rows = cell_rows(m)
    order = np.lexsort((tie_key, sort_key, rows))
    rank = np.empty(len(rows), np.int64)
    rank[order] = np.arange(len(rows)) - m.indptr[rows[order]]
    return rank


def random_holdout(m: sp.csr_matrix, fraction: float, seed: int) -> np.ndarray:
    """Per-row stratified random holdout: a row of ``n >= 2`` cells keeps
    ``floor((1 - fraction) * n)`` (at least one) and holds out the rest (at least one); a row
    of one cell keeps it. Deterministic for a seed.

    Example:
        >>> m = sp.csr_matrix(np.ones((1, 4), dtype=np.float32))
        >>> int(random_holdout(m, 0.25, seed=3).sum()), int(random_holdout(m, 0.9, seed=3).sum())
        (1, 3)
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError("the held-out fraction must be in (0, 1)")
    n = np.diff(m.indptr)
    # The epsilon keeps 0.75 * 4 == 3 exact despite floating point.
    n_kept = np.clip(np.floor((1.0 - fraction) * n + 1e-9).astype(np.int64), 1, None)
    rank = rank_within_row(m, np.random.default_rng(seed).random(m.nnz), np.zeros(m.nnz))
    return rank >= n_kept[cell_rows(m)]


def time_cut_holdout(times: np.ndarray, fraction: float) -> np.ndarray:
    """One global time cut: the latest ``fraction`` of cells (``round``, at least one) are held
    out, and every cell tied with the cut too, so every kept time precedes every held-out one.

    Example:
        >>> time_cut_holdout(np.array([5.0, 1, 4, 2, 3]), 0.4).tolist()
        [True, False, True, False, False]
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError("the held-out fraction must be in (0, 1)")
    if not len(times):
        return np.zeros(0, bool)
    n_out = max(1, int(round(fraction * len(times))))
    cut = np.partition(times, len(times) - n_out)[len(times) - n_out]
    return times >= cut


def latest_holdout(m: sp.csr_matrix, times: np.ndarray, seed: int) -> np.ndarray:
    """Each row's latest cell (rows of at least two cells): leave-last-out. Ties in time
    (common: ML-100k rates many films in one second) are broken at random, deterministically
    for a seed.

    Example:
        >>> m = sp.csr_matrix(np.ones((1, 3), dtype=np.float32))
        >>> latest_holdout(m, np.array([3.0, 9, 1]), seed=0).tolist()
        [False, True, False]
    """
    n = np.diff(m.indptr)
    rank = rank_within_row(m, times, np.random.default_rng(seed).random(m.nnz))
    rows = cell_rows(m)
    return (rank == n[rows] - 1) & (n[rows] >= 2)


def cell_times(m: sp.csr_matrix, timestamps: sp.spmatrix) -> np.ndarray:
    """The time of each cell of the canonical ``m`` read from ``timestamps`` (a matrix shaped
    like ``m``); a cell without a time counts as the oldest (0).

    Example:
        >>> m = sp.csr_matrix(np.ones((1, 3), dtype=np.float32))
        >>> cell_times(m, sp.csr_matrix(np.array([[0.0, 7.0, 2.0]]))).tolist()
        [0.0, 7.0, 2.0]
    """
    T = sp.csr_matrix(sp.csr_matrix(timestamps).multiply(m != 0))
    T.sum_duplicates()
    n = m.shape[1]
    keys = cell_rows(m) * n + m.indices
    t_keys = cell_rows(T) * n + T.indices
    out = np.zeros(m.nnz)
    out[np.searchsorted(keys, t_keys)] = T.data
    return out


def discount(k: int) -> np.ndarray:
    """The DCG discount of ranks 1..k: ``1 / log2(rank + 1)``."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def ideal_dcg(n_relevant: np.ndarray, k: int) -> np.ndarray:
    """The best DCG@k reachable with ``n_relevant`` relevant items (0 for none)."""
    return np.r_[0.0, np.cumsum(discount(k))][np.minimum(n_relevant, k)]


def ndcg(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Binary-relevance nDCG per row of ``hits`` (rows, k): DCG over the ideal DCG of
    ``min(n_relevant, k)`` hits (0 where nothing is relevant).

    Example:
        >>> ndcg(np.array([[False, True]]), np.array([1])).round(4).tolist()
        [0.6309]
    """
    k = hits.shape[1]
    dcg = hits @ discount(k)
    ideal = ideal_dcg(n_relevant, k)
    return np.divide(dcg, ideal, out=np.zeros(len(dcg)), where=ideal > 0)
