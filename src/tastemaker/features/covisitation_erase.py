"""Un-counting co-visitation pairs: what an erasure takes away from the ``base`` level.

Counts are float32 sums of positive event weights. Subtracting a user's pairs from them
leaves, for a pair only that user made, a rounding residue instead of zero; a rebuild from
a log without the user would have no entry. A pair whose remainder is within
:data:`ZERO_RELATIVE` of what it was is therefore set to exactly zero and dropped: float32
carries 24 bits (6e-8 relative) per addition, and a count of up to thousands of additions
stays well inside 1e-5 of its true value, while a real remainder (another user's weight,
at least the smallest event weight) is far above it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.features.covisitation_merge import COUNT_DTYPE, merged
from tastemaker.features.item_index import grown

ZERO_RELATIVE = 1e-5


def subtract_counts(base: sp.csr_matrix, base_sums: np.ndarray, counts: sp.spmatrix,
                    row_sums: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """``(base - counts, base_sums - row_sums)`` with residues dropped; rows stay heaviest first.

    >>> base = sp.csr_matrix(np.array([[0, 3, 1], [3, 0, 0], [1, 0, 0]], np.float32))
    >>> user = sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], np.float64))
    >>> out, sums = subtract_counts(base, np.array([4.0, 3.0, 1.0]), user, np.array([2.0, 1.0, 1.0]))
    >>> out.toarray().tolist(), sums.tolist()
    ([[0.0, 2.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [2.0, 2.0, 0.0])
    """
    counts = sp.csr_matrix(counts, dtype=np.float64)
    counts.sum_duplicates()
    counts.eliminate_zeros()
    size = max(counts.shape[0], base.shape[0])
    if counts.shape[0] < size:
        counts.resize((size, size))
    coo = counts.tocoo()
    rows, cols, take = coo.row, coo.col, coo.data
    if base.shape[0] < size:
        base = base.copy()
        base.resize((size, size))
    # the counts at the user's pairs before (a scipy lookup reads the rows whatever their order)
    was = np.asarray(sp.csr_matrix(base)[rows, cols]).ravel().astype(np.float64)
    left = was - take
    gone = left <= ZERO_RELATIVE * was
    take = np.where(gone, was, take)  # exactly what is there: the float32 sum is then 0
    delta = sp.csr_matrix((-take, (rows, cols)), shape=(size, size))
    out = merged(base, delta, size)
    out.data[np.abs(out.data) <= np.finfo(COUNT_DTYPE).tiny] = 0
    out.eliminate_zeros()
    out.has_sorted_indices = False  # rows are heaviest first, not by column
    sums = grown(base_sums.astype(np.float64, copy=True), size)
    before = sums[: len(row_sums)].copy()
    sums[: len(row_sums)] -= row_sums
    sums[: len(row_sums)][sums[: len(row_sums)] <= ZERO_RELATIVE * before] = 0.0
    return out, sums
