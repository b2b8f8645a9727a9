"""The co-visitation ``base`` level: full counts, each row stored heaviest first.

Keeping ``base``'s rows in served order (weight descending, ties in column order) makes the
head of a row its cut: :class:`~tastemaker.features.covisitation.CoVisitationIndex` serves
untouched rows straight from ``base`` instead of from a second, pre-cut copy of every row
(which held half as many entries again as ``base``), and cutting after a replay costs no
sort of the whole matrix (whose temporaries made the replay's peak memory).

:func:`merged` adds a column-ordered level into ``base`` row by row in one compiled pass,
sizing the result exactly first, so a merge holds the old and the new arrays and nothing
else; rows the added level does not touch are copied as they are.

Counts are float32: a count is a sum of event weights (1, 2, 4, 6 for the built-in types;
a rating's weight is a square root), so for the built-in types every count below 2**24
(16.7M weight units on one pair) is exact, and otherwise each merge rounds a count once,
at a relative 6e-8, far below anything that reorders neighbours in practice. The row sums
(the cosine's normaliser) stay float64.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit

COUNT_DTYPE = np.float32


@njit(cache=True, nogil=True)
def _row_span(ptr: np.ndarray, row: int) -> tuple[int, int]:
    if row + 1 < len(ptr):
        return ptr[row], ptr[row + 1]
    return 0, 0


@njit(cache=True, nogil=True)
def merge_rows(n_rows: int, reorder: bool, p0: np.ndarray, i0: np.ndarray, d0: np.ndarray,
               p1: np.ndarray, i1: np.ndarray, d1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level 0 plus level 1 (square, no repeated column within a row of a level), every row
    heaviest first with ties in column order; rows without level-1 entries are copied as they
    are unless ``reorder`` (level 0 not yet in that order). Returns ``(indptr, indices, data)``.

    >>> import numpy as np
    >>> one = (np.array([0, 2, 2]), np.array([1, 0], np.int32), np.array([1.0, 1.0], np.float32))
    >>> two = (np.array([0, 1, 2]), np.array([0, 0], np.int32), np.array([3.0, 2.0], np.float32))
    >>> ptr, idx, val = merge_rows(2, False, *one, *two)
    >>> ptr.tolist(), idx.tolist(), val.tolist()
    ([0, 2, 3], [0, 1, 0], [4.0, 1.0, 2.0])
    """
    mark = np.full(n_rows, -1, np.int64)  # mark[col] = row whose entries hold col; slot[col] = where
    slot = np.zeros(n_rows, np.int64)
    ptr = np.zeros(n_rows + 1, np.int64)
    for r in range(n_rows):  # pass 1: exact row lengths, so the result is allocated once
        s0, e0 = _row_span(p0, r)
        s1, e1 = _row_span(p1, r)
        n = e0 - s0
        for t in range(s0, e0):
            mark[i0[t]] = r
        for t in range(s1, e1):
            if mark[i1[t]] != r:
                n += 1
        ptr[r + 1] = ptr[r] + n
    indices = np.empty(ptr[n_rows], np.int32)
    data = np.empty(ptr[n_rows], np.float32)
    mark[:] = -1
    longest = 0
    for r in range(n_rows):
        longest = max(longest, ptr[r + 1] - ptr[r])
    cols = np.empty(longest, np.int64)
    vals = np.empty(longest, np.float64)
    for r in range(n_rows):
        s0, e0 = _row_span(p0, r)
        s1, e1 = _row_span(p1, r)
        o = ptr[r]
        if s1 == e1 and not reorder:
            for t in range(s0, e0):
                indices[o] = i0[t]
                data[o] = d0[t]
                o += 1
            continue
        m = 0
        for t in range(s0, e0):
            cols[m] = i0[t]
            vals[m] = d0[t]
            mark[i0[t]] = r
            slot[i0[t]] = m
            m += 1
        for t in range(s1, e1):
            c = i1[t]
            if mark[c] == r:
                vals[slot[c]] += d1[t]  # two float32 summed exactly in float64, rounded once below
            else:
                cols[m] = c
                vals[m] = d1[t]
                mark[c] = r
                slot[c] = m
                m += 1
        by_col = np.argsort(cols[:m], kind="mergesort")
        by_weight = np.argsort(-vals[by_col], kind="mergesort")  # stable: ties stay in column order
        for t in by_weight:
            indices[o] = cols[by_col[t]]
            data[o] = vals[by_col[t]]
            o += 1
    return ptr, indices, data


def merged(base: sp.csr_matrix, other: sp.csr_matrix | None, size: int, reorder: bool = False) -> sp.csr_matrix:
    """``base + other`` as a ``size`` x ``size`` float32 matrix with every row heaviest first.

    ``base``'s rows must already be in that order unless ``reorder``; ``other`` must have no
    repeated column within a row (a canonical scipy matrix).
    """
    empty = (np.zeros(1, np.int32), np.zeros(0, np.int32), np.zeros(0, COUNT_DTYPE))
    levels = []
    for level in (base, other):
        if level is None or not level.nnz:
            levels.append(empty)
        else:
            levels.append((level.indptr, level.indices, level.data.astype(COUNT_DTYPE, copy=False)))
    ptr, indices, data = merge_rows(size, reorder, *levels[0], *levels[1])
    if ptr[-1] < 2**31:
        ptr = ptr.astype(np.int32)  # scipy would otherwise upcast the indices to match
    else:
        indices = indices.astype(np.int64)
    out = sp.csr_matrix((data, indices, ptr), shape=(size, size), copy=False)
    out.has_sorted_indices = False  # rows are in weight order: scipy must not take them as sorted
    return out


@njit(cache=True, nogil=True)
def head_candidates(b_idx: np.ndarray, b_val: np.ndarray, u_idx: np.ndarray, u_val: np.ndarray, k: int,
                    slot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What can be among a row's ``k`` heaviest entries: the levels above ``base`` (``u_idx``,
    distinct columns) with their ``base`` weights added, and the first ``k`` of ``base``'s
    other entries (its row is heaviest first, ties in column order, so no later one can beat
    them). One pass over the ``base`` row, no sort of it; ``slot`` is scratch, all -1, as
    long as the largest column, and is left all -1.

    >>> import numpy as np
    >>> slot = np.full(8, -1, np.int64)
    >>> idx, val = head_candidates(np.array([3, 1, 2], np.int32), np.array([5.0, 4.0, 1.0], np.float32),
    ...                            np.array([2]), np.array([9.0]), 1, slot)
    >>> idx.tolist(), val.tolist(), int(slot.max())
    ([2, 3], [10.0, 5.0], -1)
    """
    r = len(u_idx)
    cols = np.empty(r + k, np.int64)
    vals = np.empty(r + k, np.float64)
    for j in range(r):
        cols[j] = u_idx[j]
        vals[j] = u_val[j]
        slot[u_idx[j]] = j
    m = r
    for t in range(len(b_idx)):
        c = b_idx[t]
        j = slot[c] if c < len(slot) else -1
        if j >= 0:
            vals[j] += b_val[t]
        elif m < r + k:
            cols[m] = c
            vals[m] = b_val[t]
            m += 1
    for j in range(r):
        slot[u_idx[j]] = -1
    return cols[:m], vals[:m]
