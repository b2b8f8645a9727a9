"""Item-to-item co-visitation counts, updated per event.

Counts live in a CSR matrix (compact, fast row slices) plus a small dict of recent
increments; the dict is folded into the matrix when it grows, so an update costs a few
dict operations and a query a few row slices.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.features.grouping import sum_by_id
from tastemaker.features.item_index import grown


class CoVisitationIndex:
    """Symmetric co-occurrence weights of items a user interacted with close together.

    >>> cov = CoVisitationIndex()
    >>> cov.add(0, [1, 2], 1.0); cov.add(1, [2], 1.0)
    >>> ids, scores = cov.neighbors(np.array([0]), np.array([1.0]), n=5)
    >>> sorted(ids.tolist())
    [1, 2]
    """

    def __init__(self, compact_every: int = 500_000):
        self.base = sp.csr_matrix((0, 0), dtype=np.float64)
        self.delta: dict[int, dict[int, float]] = {}
        self.delta_size = 0
        self.compact_every = compact_every
        self._row_sums = np.zeros(0, dtype=np.float64)
        self._pending_sums: dict[int, float] = {}  # folded into _row_sums on read: cheap writes

    def add(self, item: int, others: list[int], weight: float) -> None:
        """Record that ``item`` was seen with each of ``others`` (weight added both ways)."""
        if weight <= 0 or not others:
            return
        delta, sums = self.delta, self._pending_sums
        row = delta.get(item)
        if row is None:
            row = delta[item] = {}
        for other in others:
            row[other] = row.get(other, 0.0) + weight
            back = delta.get(other)
            if back is None:
                back = delta[other] = {}
            back[item] = back.get(item, 0.0) + weight
            sums[other] = sums.get(other, 0.0) + weight
        sums[item] = sums.get(item, 0.0) + weight * len(others)
        self.delta_size += 2 * len(others)
        if self.delta_size >= self.compact_every:
            self.compact()

    def add_matrix(self, counts: sp.spmatrix) -> None:
        """Add a whole (symmetric) count matrix at once: bulk loads and replays."""
        counts = sp.csr_matrix(counts, dtype=np.float64)
        size = max(counts.shape[0], self.base.shape[0])
        self.base = _resized(self.base, size) + _resized(counts, size)
        sums = np.asarray(counts.sum(axis=1)).ravel()
        self._row_sums = grown(self.row_sums, size)
        self._row_sums[: len(sums)] += sums

    @property
    def row_sums(self) -> np.ndarray:
        """Each item's total co-visitation weight (normaliser of the cosine)."""
        if self._pending_sums:
            keys = np.fromiter(self._pending_sums.keys(), np.int64, len(self._pending_sums))
            vals = np.fromiter(self._pending_sums.values(), np.float64, len(self._pending_sums))
            self._row_sums = grown(self._row_sums, int(keys.max()) + 1)
            np.add.at(self._row_sums, keys, vals)
            self._pending_sums.clear()
        return self._row_sums

    def compact(self) -> None:
        """Fold the recent increments into the CSR matrix."""
        if not self.delta:
            return
        rows, cols, vals = [], [], []
        for i, row in self.delta.items():
            rows.extend([i] * len(row))
            cols.extend(row.keys())
            vals.extend(row.values())
        size = max(len(self.row_sums), self.base.shape[0], max(self.delta) + 1)
        update = sp.csr_matrix((np.asarray(vals, np.float64), (rows, cols)), shape=(size, size))
        self.base = _resized(self.base, size) + update
        self.delta.clear()
        self.delta_size = 0

    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of one item and their raw weights."""
        if item < self.base.shape[0]:
            start, end = self.base.indptr[item], self.base.indptr[item + 1]
            idx, val = self.base.indices[start:end], self.base.data[start:end].astype(np.float64)
        else:
            idx, val = np.zeros(0, np.int32), np.zeros(0)
        extra = self.delta.get(item)
        if extra:
            idx = np.concatenate([idx, np.fromiter(extra.keys(), np.int32, len(extra))])
            val = np.concatenate([val, np.fromiter(extra.values(), np.float64, len(extra))])
        return idx, val

    def neighbors(self, items: np.ndarray, weights: np.ndarray, n: int, per_item: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` items co-visited with ``items`` (each weighted), cosine-normalised.

        Dividing by the square roots of both items' totals keeps blockbusters from being
        everyone's neighbour. Each seed contributes at most its ``per_item`` strongest
        neighbours, which bounds the cost of a request whatever the history.
        """
        parts_idx, parts_val = [], []
        row_sums = self.row_sums
        for item, weight in zip(items.tolist(), weights.tolist()):
            idx, val = self.row(item)
            if len(idx) > per_item:
                keep = np.argpartition(-val, per_item - 1)[:per_item]
                idx, val = idx[keep], val[keep]
            if len(idx):
                parts_idx.append(idx)
                parts_val.append(val * (weight / np.sqrt(max(row_sums[item], 1e-9))))
        if not parts_idx:
            return np.zeros(0, np.int64), np.zeros(0)
        idx = np.concatenate(parts_idx)
        val = np.concatenate(parts_val) / np.sqrt(np.maximum(row_sums[idx], 1e-9))
        if len(parts_idx) > 1:
            idx, val = sum_by_id(idx, val)
        if len(idx) > n:
            top = np.argpartition(-val, n - 1)[:n]
            idx, val = idx[top], val[top]
        order = np.argsort(-val, kind="stable")
        return idx[order].astype(np.int64), val[order]

    def nnz(self) -> int:
        return int(self.base.nnz) + self.delta_size


def _resized(matrix: sp.csr_matrix, size: int) -> sp.csr_matrix:
    if matrix.shape == (size, size):
        return matrix
    matrix = matrix.tocsr()
    matrix.resize((size, size))
    return matrix
