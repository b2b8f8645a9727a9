"""The co-visitation ``delta`` level: the newest pair counts, in one sorted key array.

Reads are exact (every event is counted before the next read), so the pairs written since
the last read are folded on every read. Folding them straight into the ``fresh`` CSR matrix
cost time proportional to the catalogue (a CSR sum walks every row's pointer: about a
millisecond at 100k items, on every read while ingest runs, a quarter of the loop thread).
Here a fold costs time proportional to what it adds: the pairs are keyed ``row << 32 | col``,
summed, and merged into the sorted keys by binary search and one ``insert``; a row is one
``searchsorted`` range. The level moves into ``fresh`` once it holds ``DELTA_MAX`` entries,
which amortises the catalogue-sized cost over thousands of events instead of paying it per read.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DELTA_MAX = 65_536  # entries before the level moves into the CSR levels
_SHIFT = np.int64(32)
_LOW = np.int64(0xFFFFFFFF)


class SortedPairs:
    """Pair weights keyed by ``(row, col)``, sorted, each key once.

    >>> pairs = SortedPairs()
    >>> pairs.add(np.array([1, 0, 1]), np.array([2, 1, 2]), np.array([1.0, 2.0, 3.0]))
    >>> cols, vals = pairs.row(1)
    >>> cols.tolist(), vals.tolist(), len(pairs)
    ([2], [4.0], 2)
    """

    __slots__ = ("keys", "vals")

    def __init__(self) -> None:
        self.keys = np.zeros(0, np.int64)
        self.vals = np.zeros(0, np.float64)

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> None:
        """Add ``vals`` at ``(rows, cols)`` (repeated pairs summed)."""
        new_keys, inverse = np.unique((rows.astype(np.int64) << _SHIFT) | cols.astype(np.int64), return_inverse=True)
        new_vals = np.bincount(inverse.ravel(), weights=vals, minlength=len(new_keys))
        pos = np.searchsorted(self.keys, new_keys)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == new_keys[found]
        np.add.at(self.vals, pos[found], new_vals[found])  # keys are unique: a plain += would do, add.at is clear
        missing = ~found
        if missing.any():
            self.keys = np.insert(self.keys, pos[missing], new_keys[missing])
            self.vals = np.insert(self.vals, pos[missing], new_vals[missing])

    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """The columns (int32, ascending) and weights of one row."""
        start, end = np.searchsorted(self.keys, [np.int64(item) << _SHIFT, np.int64(item + 1) << _SHIFT])
        return (self.keys[start:end] & _LOW).astype(np.int32), self.vals[start:end]

    def to_csr(self, size: int, dtype: type) -> sp.csr_matrix:
        """The level as a ``size`` x ``size`` CSR matrix (canonical: sorted, no duplicates)."""
        rows = (self.keys >> _SHIFT).astype(np.int32)
        indptr = np.zeros(size + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=size), out=indptr[1:])
        return sp.csr_matrix(((self.vals.astype(dtype)), (self.keys & _LOW).astype(np.int32), indptr), shape=(size, size))

    def clear(self) -> None:
        self.keys = np.zeros(0, np.int64)
        self.vals = np.zeros(0, np.float64)
