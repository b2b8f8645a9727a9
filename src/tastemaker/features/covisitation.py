"""Item-to-item co-visitation counts, updated per event.

Counts live in two CSR matrices plus a dict of the latest increments, a small LSM tree:
the dict (cheap writes) is folded into the small ``recent`` matrix every
``compact_every`` entries, and ``recent`` into the large ``base`` only when it reaches a
quarter of its size. Each fold costs time proportional to what it merges into, so ingest
never stalls on copying the whole matrix every few thousand events.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import scipy.sparse as sp

from tastemaker.features.grouping import sum_by_id
from tastemaker.features.item_index import grown


_CACHE_K = 200
_CACHE_ITEMS = 50_000


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
        self.recent = sp.csr_matrix((0, 0), dtype=np.float64)
        self.delta: dict[int, dict[int, float]] = {}
        self.delta_size = 0
        self.compact_every = compact_every
        self._row_sums = np.zeros(0, dtype=np.float64)
        # (item, others, weight) of each add, folded into _row_sums on read: one append per write
        self._pending_sums: list[tuple[int, list[int], float]] = []
        # Strongest neighbours per item, computed on first query; valid while not ``_dirty``.
        self._strongest: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._dirty: set[int] = set()
        # Every row of ``base`` cut to its strongest entries, valid for rows not touched since.
        self.pruned: sp.csr_matrix | None = None
        self._touched: set[int] = set()

    def add(self, item: int, others: list[int], weight: float) -> None:
        """Record that ``item`` was seen with each of ``others`` (weight added both ways)."""
        if weight <= 0 or not others:
            return
        delta = self.delta
        # Set updates run in C: invalidating caches costs no Python loop per pair.
        self._dirty.add(item)
        self._dirty.update(others)
        if self.pruned is not None:
            self._touched.add(item)
            self._touched.update(others)
        self._pending_sums.append((item, others, weight))
        row = delta.get(item)
        if row is None:
            row = delta[item] = {}
        for other in others:
            row[other] = row.get(other, 0.0) + weight
            back = delta.get(other)
            if back is None:
                delta[other] = {item: weight}
            else:
                back[item] = back.get(item, 0.0) + weight
        self.delta_size += 2 * len(others)
        if self.delta_size >= self.compact_every:
            self.compact()

    def add_matrix(self, counts: sp.spmatrix) -> None:
        """Add a whole (symmetric) count matrix at once: bulk loads and replays."""
        counts = sp.csr_matrix(counts, dtype=np.float64)
        self.compact(full=True)
        size = max(counts.shape[0], self.base.shape[0])
        self.base = _resized(self.base, size) + _resized(counts, size)
        sums = np.asarray(counts.sum(axis=1)).ravel()
        self._row_sums = grown(self.row_sums, size)
        self._row_sums[: len(sums)] += sums

    @property
    def row_sums(self) -> np.ndarray:
        """Each item's total co-visitation weight (normaliser of the cosine)."""
        if self._pending_sums:
            self._fold_sums(self._pending_sums)
            self._pending_sums = []
        return self._row_sums

    def _fold_sums(self, pending: list[tuple[int, list[int], float]]) -> None:
        """Add pending writes to the row sums: each other gets ``weight``, the item ``weight * len(others)``."""
        lengths = np.fromiter((len(o) for _, o, _ in pending), np.int64, len(pending))
        weights = np.fromiter((w for _, _, w in pending), np.float64, len(pending))
        items = np.fromiter((i for i, _, _ in pending), np.int64, len(pending))
        others = np.fromiter(chain.from_iterable(o for _, o, _ in pending), np.int64, int(lengths.sum()))
        keys = np.concatenate([others, items])
        vals = np.concatenate([np.repeat(weights, lengths), weights * lengths])
        self._row_sums = grown(self._row_sums, int(keys.max()) + 1)
        np.add.at(self._row_sums, keys, vals)

    def compact(self, full: bool = False) -> None:
        """Fold the dict into ``recent``, and ``recent`` into ``base`` when large (or ``full``)."""
        if self.delta:
            rows, cols, vals = [], [], []
            for i, row in self.delta.items():
                rows.extend([i] * len(row))
                cols.extend(row.keys())
                vals.extend(row.values())
            size = max(len(self.row_sums), self.base.shape[0], self.recent.shape[0], max(self.delta) + 1)
            update = sp.csr_matrix((np.asarray(vals, np.float64), (rows, cols)), shape=(size, size))
            self.recent = _resized(self.recent, size) + update
            self.delta.clear()
            self.delta_size = 0
        if self.recent.nnz and (full or self.recent.nnz * 4 >= self.base.nnz):
            size = max(self.base.shape[0], self.recent.shape[0])
            self.base = _resized(self.base, size) + _resized(self.recent, size)
            self.recent = sp.csr_matrix((0, 0), dtype=np.float64)

    def __getstate__(self) -> dict:
        self.row_sums  # noqa: B018 (folds pending sums first, so the snapshot holds plain arrays)
        state = self.__dict__.copy()
        state["_strongest"] = {}  # a cache: rebuilt on demand
        state["_dirty"] = set()
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_strongest", {})
        self.__dict__.setdefault("_dirty", set())
        pending = state.get("_pending_sums")
        if isinstance(pending, dict):  # an older snapshot kept pending sums as {item: weight}
            self._pending_sums = []
            if pending:
                keys = np.fromiter(pending.keys(), np.int64, len(pending))
                self._row_sums = grown(self._row_sums, int(keys.max()) + 1)
                np.add.at(self._row_sums, keys, np.fromiter(pending.values(), np.float64, len(pending)))
        if not state.get("_pruned_sorted"):
            self.__dict__["pruned"] = None  # an older snapshot's rows were not ordered: re-prune on open
        self.__dict__.setdefault("_touched", set())
        self.__dict__.setdefault("recent", sp.csr_matrix((0, 0), dtype=np.float64))

    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of one item and their raw weights (an id may repeat across levels)."""
        idx_parts, val_parts = [], []
        for level in (self.base, self.recent):
            if item < level.shape[0]:
                start, end = level.indptr[item], level.indptr[item + 1]
                if end > start:
                    idx_parts.append(level.indices[start:end])
                    val_parts.append(level.data[start:end])
        extra = self.delta.get(item)
        if extra:
            idx_parts.append(np.fromiter(extra.keys(), np.int32, len(extra)))
            val_parts.append(np.fromiter(extra.values(), np.float64, len(extra)))
        if not idx_parts:
            return np.zeros(0, np.int32), np.zeros(0)
        if len(idx_parts) == 1:
            return idx_parts[0], val_parts[0]
        return sum_by_id(np.concatenate(idx_parts), np.concatenate(val_parts))

    def strongest(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` heaviest entries of a row, heaviest first (cached: hot items are everyone's seeds)."""
        pruned = self.pruned
        if pruned is not None and item < pruned.shape[0] and item not in self._touched:
            start, end = pruned.indptr[item], pruned.indptr[item + 1]
            end = min(end, start + k)
            return pruned.indices[start:end], pruned.data[start:end]
        if item in self._dirty:
            self._strongest.pop(item, None)
            self._dirty.discard(item)
        cached = self._strongest.get(item)
        if cached is not None and len(cached[0]) >= min(k, _CACHE_K):
            return cached[0][:k], cached[1][:k]
        idx, val = self.row(item)
        keep_k = max(k, _CACHE_K)
        if len(idx) > keep_k:
            keep = np.argpartition(-val, keep_k - 1)[:keep_k]
            idx, val = idx[keep], val[keep]
        order = np.argsort(-val, kind="stable")
        idx, val = idx[order], val[order]
        if len(self._strongest) >= _CACHE_ITEMS:
            self._strongest.clear()
        self._strongest[item] = (idx, val)
        return idx[:k], val[:k]

    def prune(self, k: int = _CACHE_K) -> None:
        """Precompute every row's ``k`` strongest entries, heaviest first (after a replay or bulk load).

        Reads then slice the head of a short row instead of partitioning a long one, and many
        rows can be gathered in one vectorised step; rows changed later fall back to
        :meth:`strongest`'s per-item cache.
        """
        self.compact(full=True)
        base = self.base
        rows = np.repeat(np.arange(base.shape[0], dtype=np.int32), np.diff(base.indptr))
        order = np.lexsort((-base.data, rows))  # by row, heaviest first within a row
        rank = np.arange(base.nnz) - base.indptr[rows[order]]
        order = order[rank < k]
        counts = np.bincount(rows[order], minlength=base.shape[0])
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(base.indptr.dtype)
        self.pruned = sp.csr_matrix((base.data[order], base.indices[order], indptr), shape=base.shape)
        self._pruned_sorted = True
        self._touched = set()
        self._strongest.clear()
        self._dirty = set()

    def entries(self, items: np.ndarray, weights: np.ndarray, per_item: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """Each seed's ``per_item`` strongest neighbours, cosine-weighted; ids may repeat across seeds.

        The cheap half of :meth:`neighbors` for callers that sum duplicates themselves (the
        serving merge does). Untouched rows of the pruned matrix are gathered in one step.
        """
        row_sums = self.row_sums
        pruned = self.pruned
        if len(items) and int(items.max()) >= len(row_sums):  # items never co-visited have no row
            known = items < len(row_sums)
            items, weights = items[known], weights[known]
        factors = weights / np.sqrt(np.maximum(row_sums[items], 1e-9))
        parts_idx, parts_val = [], []
        slow = range(len(items))
        if pruned is not None:
            size, touched = pruned.shape[0], self._touched
            fast = [i for i, item in enumerate(items.tolist()) if item < size and item not in touched]
            if fast:
                seeds = items[fast]
                starts = pruned.indptr[seeds]
                lengths = np.minimum(pruned.indptr[seeds + 1] - starts, per_item)
                total = int(lengths.sum())
                offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
                parts_idx.append(pruned.indices[offsets])
                parts_val.append(pruned.data[offsets] * np.repeat(factors[fast], lengths))
            if len(fast) < len(items):
                fast_set = set(fast)
                slow = [i for i in range(len(items)) if i not in fast_set]
            else:
                slow = []
        for i in slow:
            idx, val = self.strongest(int(items[i]), per_item)
            if len(idx):
                parts_idx.append(idx)
                parts_val.append(val * factors[i])
        if not parts_idx:
            return np.zeros(0, np.int64), np.zeros(0)
        idx = np.concatenate(parts_idx) if len(parts_idx) > 1 else parts_idx[0]
        val = np.concatenate(parts_val) if len(parts_val) > 1 else parts_val[0]
        return idx.astype(np.int64), val / np.sqrt(np.maximum(row_sums[idx], 1e-9))

    def neighbors(self, items: np.ndarray, weights: np.ndarray, n: int, per_item: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` items co-visited with ``items`` (each weighted), cosine-normalised.

        Dividing by the square roots of both items' totals keeps blockbusters from being
        everyone's neighbour. Each seed contributes at most its ``per_item`` strongest
        neighbours, which bounds the cost of a request whatever the history.
        """
        idx, val = self.entries(items, weights, per_item)
        if len(items) > 1:
            idx, val = sum_by_id(idx, val)
        if len(idx) > n:
            top = np.argpartition(-val, n - 1)[:n]
            idx, val = idx[top], val[top]
        order = np.argsort(-val, kind="stable")
        return idx[order], val[order]

    def nnz(self) -> int:
        return int(self.base.nnz) + int(self.recent.nnz) + self.delta_size


def _resized(matrix: sp.csr_matrix, size: int) -> sp.csr_matrix:
    if matrix.shape == (size, size):
        return matrix
    matrix = matrix.tocsr()
    matrix.resize((size, size))
    return matrix
