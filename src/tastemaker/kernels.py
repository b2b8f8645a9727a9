"""Compiled inner loops of the read path (numba).

A recommendation request gathers a few hundred co-visitation entries and blends five
candidate lists. Written as numpy expressions that is a few dozen calls on arrays of a
few hundred elements, and each call costs a microsecond or more of dispatch before it does
any work: per request, the dispatch outweighed the arithmetic. These loops do the same
arithmetic in one compiled call each, in the same order, so the results are the ones the
numpy expressions gave.

Compiled on first use and cached on disk beside this file (``cache=True``), so only the
first process after an install pays the compile; :func:`warm_up` compiles them before a
server answers its first request.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def gather_rows(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, seeds: np.ndarray,
                factors: np.ndarray, per_item: int, row_sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_item`` entries of each seed's CSR row, in seed order, each entry's
    value times its seed's factor and divided by ``sqrt(row_sums[entry])`` (cosine weighting).

    >>> import numpy as np
    >>> ptr, idx, val = np.array([0, 2, 3]), np.array([1, 0, 0]), np.array([4.0, 2.0, 9.0])
    >>> gather_rows(ptr, idx, val, np.array([0, 1]), np.array([1.0, 0.5]), 1, np.array([4.0, 16.0]))
    (array([1, 0]), array([1.  , 2.25]))
    """
    total = 0
    for s in seeds:
        total += min(indptr[s + 1] - indptr[s], per_item)
    out_idx = np.empty(total, np.int64)
    out_val = np.empty(total, np.float64)
    o = 0
    for j in range(len(seeds)):
        start = indptr[seeds[j]]
        count = min(indptr[seeds[j] + 1] - start, per_item)
        factor = factors[j]
        for t in range(start, start + count):
            item = indices[t]
            out_idx[o] = item
            out_val[o] = data[t] * factor / np.sqrt(max(row_sums[item], 1e-9))
            o += 1
    return out_idx, out_val


@njit(cache=True, nogil=True)
def gather_cut_rows(ptr_a: np.ndarray, idx_a: np.ndarray, val_a: np.ndarray, ptr_b: np.ndarray, idx_b: np.ndarray,
                    val_b: np.ndarray, seeds: np.ndarray, factors: np.ndarray, per_item: int,
                    row_sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`gather_rows` over two CSR matrices: each seed's row from ``b`` where ``b``'s row
    is not empty, else from ``a`` (rows past a matrix's end are empty there), in seed order.

    >>> import numpy as np
    >>> a = (np.array([0, 2, 3]), np.array([1, 0, 0]), np.array([4.0, 2.0, 9.0]))
    >>> b = (np.array([0, 0, 1]), np.array([0]), np.array([3.0]))
    >>> gather_cut_rows(*a, *b, np.array([0, 1]), np.array([1.0, 1.0]), 1, np.array([4.0, 16.0]))
    (array([1, 0]), array([1. , 1.5]))
    """
    total = 0
    for s in seeds:
        n = ptr_b[s + 1] - ptr_b[s] if s + 1 < len(ptr_b) else 0
        if n == 0 and s + 1 < len(ptr_a):
            n = ptr_a[s + 1] - ptr_a[s]
        total += min(n, per_item)
    out_idx = np.empty(total, np.int64)
    out_val = np.empty(total, np.float64)
    o = 0
    for j in range(len(seeds)):
        s = seeds[j]
        in_b = s + 1 < len(ptr_b) and ptr_b[s + 1] > ptr_b[s]
        if in_b:
            start, count = ptr_b[s], min(ptr_b[s + 1] - ptr_b[s], per_item)
        elif s + 1 < len(ptr_a):
            start, count = ptr_a[s], min(ptr_a[s + 1] - ptr_a[s], per_item)
        else:
            start, count = 0, 0
        factor = factors[j]
        for t in range(start, start + count):
            item = idx_b[t] if in_b else idx_a[t]
            out_idx[o] = item
            out_val[o] = (val_b[t] if in_b else val_a[t]) * factor / np.sqrt(max(row_sums[item], 1e-9))
            o += 1
    return out_idx, out_val


@njit(cache=True, nogil=True)
def blend_parts(items: np.ndarray, scores: np.ndarray, lengths: np.ndarray, weights: np.ndarray,
                slot: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend consecutive candidate lists (part ``p`` is the next ``lengths[p]`` entries).

    Per distinct item and part the entries add up; each part is divided by its largest
    per-item sum and multiplied by its weight; the blend is the sum over parts. Returns
    ``(items, blended, best_part)`` with items in first-appearance order and ``best_part``
    the part that contributed most (the first on ties). ``slot`` is scratch indexed by item,
    all ``-1`` on entry and again on return.

    >>> import numpy as np
    >>> slot = np.full(8, -1)
    >>> blend_parts(np.array([3, 5, 3, 5]), np.array([1.0, 2.0, 1.0, 4.0]), np.array([3, 1]),
    ...             np.array([1.0, 0.5]), slot)
    (array([3, 5]), array([1. , 1.5]), array([0, 0]))
    """
    k = len(lengths)
    n = len(items)
    uniq = np.empty(n, np.int64)
    table = np.zeros((n, k))
    m = 0
    o = 0
    for p in range(k):
        for _ in range(lengths[p]):
            item = items[o]
            u = slot[item]
            if u < 0:
                u = m
                slot[item] = m
                uniq[m] = item
                m += 1
            table[u, p] += scores[o]
            o += 1
    scale = np.empty(k)
    for p in range(k):
        peak = table[0, p] if m else 0.0
        for u in range(1, m):
            peak = max(peak, table[u, p])
        scale[p] = weights[p] / (peak if peak > 0 else 1.0)
    blended = np.empty(m)
    best = np.empty(m, np.int64)
    for u in range(m):
        total = 0.0
        top, top_value = 0, -np.inf
        for p in range(k):
            value = table[u, p] * scale[p]
            total += value
            if value > top_value:
                top, top_value = p, value
        blended[u] = total
        best[u] = top
        slot[uniq[u]] = -1
    return uniq[:m].copy(), blended, best


@njit(cache=True, nogil=True)
def history_codes(items: np.ndarray, excluded: np.ndarray, seen: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """Per item: 2 if it is in ``excluded``, else 1 if it is in ``seen``, else 0.

    ``marks`` is uint8 scratch indexed by item, all zero on entry and on return; items at or
    past its end are in neither set.

    >>> import numpy as np
    >>> history_codes(np.array([4, 1, 2, 99]), np.array([1]), np.array([1, 2]), np.zeros(8, np.uint8))
    array([0, 2, 1, 0], dtype=uint8)
    """
    for item in seen:
        marks[item] = 1
    for item in excluded:
        marks[item] = 2
    limit = len(marks)
    codes = np.zeros(len(items), np.uint8)
    for j in range(len(items)):
        if items[j] < limit:
            codes[j] = marks[items[j]]
    for item in seen:
        marks[item] = 0
    for item in excluded:
        marks[item] = 0
    return codes


@njit(cache=True, nogil=True)
def screen_history(items: np.ndarray, scores: np.ndarray, mask: np.ndarray, excluded: np.ndarray, seen: np.ndarray,
                   seen_penalty: float, marks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the items that pass ``mask`` and are not ``excluded``, and their scores,
    multiplied by ``seen_penalty`` for ``seen`` items (see :func:`history_codes`).

    >>> import numpy as np
    >>> screen_history(np.array([4, 1, 2]), np.array([1.0, 1.0, 1.0]), np.array([True, True, True]),
    ...                np.array([1]), np.array([2]), 0.5, np.zeros(8, np.uint8))
    (array([0, 2]), array([1. , 0.5]))
    """
    codes = history_codes(items, excluded, seen, marks)
    keep = np.empty(len(items), np.int64)
    out = np.empty(len(items))
    m = 0
    for j in range(len(items)):
        if mask[j] and codes[j] != 2:
            keep[m] = j
            out[m] = scores[j] * seen_penalty if codes[j] == 1 else scores[j]
            m += 1
    return keep[:m].copy(), out[:m].copy()


@njit(cache=True, nogil=True)
def _append_row(level_ptr: np.ndarray, level_idx: np.ndarray, level_val: np.ndarray, row: int,
                cols: np.ndarray, vals: np.ndarray, n: int) -> int:
    if row + 1 < len(level_ptr):
        for t in range(level_ptr[row], level_ptr[row + 1]):
            cols[n] = level_idx[t]
            vals[n] = level_val[t]
            n += 1
    return n


@njit(cache=True, nogil=True)
def _row_length(level_ptr: np.ndarray, row: int) -> int:
    return level_ptr[row + 1] - level_ptr[row] if row + 1 < len(level_ptr) else 0


@njit(cache=True, nogil=True)
def cut_rows(rows: np.ndarray, k: int,
             p0: np.ndarray, i0: np.ndarray, d0: np.ndarray, p1: np.ndarray, i1: np.ndarray, d1: np.ndarray,
             p2: np.ndarray, i2: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` heaviest entries of each of ``rows`` in the sum of three CSR levels
    (``p``/``i``/``d``: indptr, indices, data; rows past a level's end are empty there),
    heaviest first, ties in column order; returns ``(indptr, indices, data)`` over ``rows``.

    >>> import numpy as np
    >>> one = (np.array([0, 2]), np.array([0, 1]), np.array([1.0, 2.0]))
    >>> two = (np.array([0, 1]), np.array([0]), np.array([5.0]))
    >>> none = (np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0))
    >>> cut_rows(np.array([0]), 5, *one, *two, *none)
    (array([0, 2]), array([0, 1]), array([6., 2.]))
    """
    longest = 0
    bound = 0
    for row in rows:
        n = _row_length(p0, row) + _row_length(p1, row) + _row_length(p2, row)
        longest = max(longest, n)
        bound += min(n, k)
    cols, vals = np.empty(longest, np.int64), np.empty(longest)
    merged_cols, merged_vals = np.empty(longest, np.int64), np.empty(longest)
    out_ptr = np.zeros(len(rows) + 1, np.int64)
    out_idx = np.empty(bound, np.int64)
    out_val = np.empty(bound)
    o = 0
    for j in range(len(rows)):
        n = _append_row(p0, i0, d0, rows[j], cols, vals, 0)
        n = _append_row(p1, i1, d1, rows[j], cols, vals, n)
        n = _append_row(p2, i2, d2, rows[j], cols, vals, n)
        by_col = np.argsort(cols[:n], kind="mergesort")  # stable: a column's levels add in level order
        m = 0
        for t in by_col:
            if m and merged_cols[m - 1] == cols[t]:
                merged_vals[m - 1] += vals[t]
            else:
                merged_cols[m] = cols[t]
                merged_vals[m] = vals[t]
                m += 1
        for t in np.argsort(-merged_vals[:m], kind="mergesort")[:k]:  # stable: ties in column order
            out_idx[o] = merged_cols[t]
            out_val[o] = merged_vals[t]
            o += 1
        out_ptr[j + 1] = o
    return out_ptr, out_idx[:o].copy(), out_val[:o].copy()


def warm_up() -> None:
    """Compile (or load from the disk cache) every kernel for the dtypes the read path uses."""
    ptr, idx = np.array([0, 1], np.int32), np.array([0], np.int32)
    for data in (np.ones(1, np.float32), np.ones(1, np.float64)):
        gather_rows(ptr, idx, data, np.zeros(1, np.int64), np.ones(1), 1, np.ones(1))
        gather_rows(ptr.astype(np.int64), idx, data, np.zeros(1, np.int64), np.ones(1), 1, np.ones(1))
    data32 = np.ones(1, np.float32)  # the co-visitation levels' dtypes
    gather_cut_rows(ptr, idx, data32, ptr, idx, data32, np.zeros(1, np.int64), np.ones(1), 1, np.ones(1))
    blend_parts(np.zeros(1, np.int64), np.ones(1), np.ones(1, np.int64), np.ones(1), np.full(1, -1, np.int64))
    one = np.zeros(1, np.int64)
    screen_history(one, np.ones(1), np.ones(1, np.bool_), one, one, 0.5, np.zeros(1, np.uint8))
