"""Item-to-item co-visitation counts, updated per event.

Counts live in a small LSM tree of CSR matrices. A write appends its pairs to flat arrays
(no dict operation per pair); the pending pairs are folded, with numpy, into the sorted
``delta`` level when a read needs them (at most ``max_lag_s`` late: 0 means every read) or
when many are pending, at a cost proportional to the pairs; ``delta`` moves into the small
``fresh`` matrix every ``DELTA_MAX`` entries; ``fresh`` is merged into ``recent`` every ``compact_every`` entries
and ``recent`` into the large ``base`` when it reaches a quarter of its size. Each merge
costs time proportional to what it merges into, so ingest never stalls on copying the whole
matrix, and a write costs a few C-level array extends.

Counts are float32 (see :mod:`~tastemaker.features.covisitation_merge` for why that is exact
enough) and ``base`` keeps each row heaviest first, so after :meth:`CoVisitationIndex.prune`
untouched rows are served from ``base`` itself; only rows re-cut since (in the background)
live in a second matrix, ``pruned``.
"""

from __future__ import annotations

import logging
import time
from array import array
from itertools import repeat
from typing import Callable

import numpy as np
import scipy.sparse as sp

from tastemaker.features.covisitation_delta import DELTA_MAX, SortedPairs
from tastemaker.features.covisitation_legacy import upgrade
from tastemaker.features.covisitation_merge import COUNT_DTYPE, head_candidates, merged
from tastemaker.features.covisitation_upkeep import CUT_K as _CACHE_K
from tastemaker.features.covisitation_upkeep import BackgroundUpkeep
from tastemaker.features.covisitation_upkeep import empty_level as _empty
from tastemaker.features.covisitation_upkeep import resized as _resized
from tastemaker.features.grouping import sum_by_id
from tastemaker.features.item_index import grown
from tastemaker.kernels import gather_cut_rows

log = logging.getLogger(__name__)
_CACHE_ITEMS = 50_000
FOLD_PENDING = 200_000  # pending pair entries folded without waiting for a read
LAYOUT = 2  # 2: float32 counts, ``base`` rows heaviest first, ``pruned`` only the re-cut rows


class CoVisitationIndex(BackgroundUpkeep):
    """Symmetric co-occurrence weights of items a user interacted with close together.

    >>> cov = CoVisitationIndex()
    >>> cov.add(0, [1, 2], 1.0); cov.add(1, [2], 1.0)
    >>> ids, scores = cov.neighbors(np.array([0]), np.array([1.0]), n=5)
    >>> sorted(ids.tolist())
    [1, 2]
    """

    def __init__(self, compact_every: int = 200_000, max_lag_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic, row_ttl_s: float = 0.0):
        self.base = _empty()
        self.recent = _empty()
        self.fresh = _empty()
        self.delta = SortedPairs()  # the newest counts, below ``fresh`` (features.covisitation_delta)
        self.merging = _empty()  # a level frozen while a background merge folds it (LevelMergeJob)
        self._merge: LevelMergeJob | None = None
        self.compact_every = compact_every
        self.max_lag_s = max_lag_s
        # How stale a changed row's cached strongest entries may be served (0: never; the
        # server sets Settings.covisitation_row_ttl_s, as global top lists lag by their ttl).
        self.row_ttl_s = row_ttl_s
        self._clock = clock
        self._rows, self._cols, self._vals = array("q"), array("q"), array("d")  # pending pairs
        self._pending_since = 0.0
        self._row_sums = np.zeros(0, dtype=np.float64)
        # Strongest neighbours per item, computed on first query; valid while not ``_dirty``.
        self._strongest: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}  # idx, val, when
        self._dirty: set[int] = set()
        # After a cut (:meth:`prune`): the rows re-cut in the background since, heaviest first
        # (the other rows are empty here and served from ``base``, whose rows are in that order);
        # valid for rows not touched since. None: never cut, every read takes the exact path.
        self.pruned: sp.csr_matrix | None = None
        self.cut_k = _CACHE_K  # entries per row the cut serves
        self._layout = LAYOUT
        self._touched: set[int] = set()
        # Rows being re-cut in the background (read the slow way until the job is installed).
        self._recut: RecutJob | None = None
        self._recutting: set[int] = set()
        self._recut_after = 0.0  # time.monotonic() before which no re-cut starts
        self._slot = np.zeros(0, np.int64)  # scratch of :meth:`_head`, all -1

    def add(self, item: int, others: list[int], weight: float) -> None:
        """Record that ``item`` was seen with each of ``others`` (weight added both ways)."""
        if weight <= 0 or not others:
            return
        k = len(others)
        if not self._rows:
            self._pending_since = self._clock()
        rows, cols = self._rows, self._cols
        rows.extend(repeat(item, k))
        cols.extend(others)
        rows.extend(others)
        cols.extend(repeat(item, k))
        self._vals.extend(repeat(weight, 2 * k))
        if len(rows) >= FOLD_PENDING:
            self._fold()

    def _sync(self) -> None:
        """Fold pending pairs before a read, unless they are younger than ``max_lag_s``."""
        if self._rows and (self.max_lag_s <= 0 or self._clock() - self._pending_since >= self.max_lag_s):
            self._fold()
        elif (self._recut is not None and self._recut.done()) or (self._merge is not None and self._merge.done()):
            self._maybe_recut()

    def _fold(self) -> None:
        """Pending pairs -> ``delta`` (duplicates summed), row sums, and cache invalidation, in
        time proportional to the pairs (every read does this); ``delta`` -> ``fresh`` when large."""
        if self._rows:
            rows = np.frombuffer(self._rows, np.int64)
            vals = np.frombuffer(self._vals, np.float64)
            self.delta.add(rows, np.frombuffer(self._cols, np.int64), vals)
            self._row_sums = grown(self._row_sums, int(rows.max()) + 1)
            np.add.at(self._row_sums, rows, vals)
            changed = np.unique(rows).tolist()
            self._dirty.update(changed)
            if self.pruned is not None:
                self._touched.update(changed)
            self._rows, self._cols, self._vals = array("q"), array("q"), array("d")
        if len(self.delta) >= min(DELTA_MAX, self.compact_every):
            self._flush_delta()
        self._maybe_recut()

    def _flush_delta(self) -> None:
        """``delta`` -> ``fresh`` (a catalogue-sized CSR sum), ``fresh`` -> ``recent`` when large."""
        if not len(self.delta):
            return
        size = max(int(self.delta.keys[-1] >> 32) + 1, self.base.shape[0], self.recent.shape[0], self.fresh.shape[0])
        self.fresh = _resized(self.fresh, size) + self.delta.to_csr(size, COUNT_DTYPE)  # rounded once, to float32
        self.delta.clear()

    def add_matrix(self, counts: sp.spmatrix) -> None:
        """Add a whole (symmetric) count matrix at once: bulk loads and replays."""
        counts = sp.csr_matrix(counts, dtype=np.float64)
        counts.sum_duplicates()
        self.compact(full=True)
        size = max(counts.shape[0], self.base.shape[0])
        self._merge_into_base(_resized(counts, size), size)
        sums = np.asarray(counts.sum(axis=1)).ravel()
        self._row_sums = grown(self._row_sums, size)
        self._row_sums[: len(sums)] += sums

    def subtract(self, counts: sp.spmatrix, row_sums: np.ndarray) -> None:
        """Take away counts added before, with their row sums (an erased user's pairs; covisitation_erase)."""
        from tastemaker.features.covisitation_erase import subtract_counts  # rare: loaded when used
        self.compact(full=True)
        self.base, self._row_sums = subtract_counts(self.base, self._row_sums, counts, row_sums)
        if self.pruned is not None:
            self.pruned = _empty(self.base.shape[0])  # every row is exact in ``base``, heaviest first
            self._touched, self._recutting, self._recut = set(), set(), None
        self._strongest.clear()
        self._dirty = set()

    @property
    def row_sums(self) -> np.ndarray:
        """Each item's total co-visitation weight (normaliser of the cosine)."""
        self._sync()
        return self._row_sums

    def _merge_fresh(self) -> None:
        if self.fresh.nnz:
            size = max(self.fresh.shape[0], self.recent.shape[0])
            self.recent = _resized(self.recent, size) + _resized(self.fresh, size)
            self.fresh = _empty()

    def compact(self, full: bool = False) -> None:
        """Fold pending pairs, ``fresh`` into ``recent``, and ``recent`` into ``base`` when large (or ``full``)."""
        self._fold()
        self._flush_delta()
        self._absorb_merging()
        self._merge_fresh()
        if self.recent.nnz and (full or self.recent.nnz * 4 >= self.base.nnz):
            size = max(self.base.shape[0], self.recent.shape[0])
            recent, self.recent = self.recent, _empty()
            self._merge_into_base(recent, size)

    def _merge_into_base(self, level: sp.csr_matrix, size: int) -> None:
        """``base += level`` (nothing in ``recent``, ``fresh`` or pending): every row is then exact in
        ``base``, so re-cut rows, marks of changed rows and a re-cut in flight (older) all go."""
        self.base = merged(self.base, level, size)
        if self.pruned is not None:
            self.pruned = _empty(size)
            self._touched, self._recutting, self._recut = set(), set(), None

    @property
    def delta_size(self) -> int:
        """Pair entries not yet in ``recent`` or ``base`` (pending, ``delta`` and ``fresh``)."""
        return len(self._rows) + len(self.delta) + int(self.fresh.nnz)

    def __getstate__(self) -> dict:
        self._fold()  # the snapshot holds plain matrices and arrays
        self._flush_delta()
        self._absorb_merging()
        state = self.__dict__.copy()
        del state["_clock"]  # not picklable in general; restored as time.monotonic
        state["_strongest"] = {}  # a cache: rebuilt on demand
        state["_dirty"] = set()
        state["_touched"] = self._touched | self._recutting  # a job in flight is not saved
        state["_recut"], state["_recutting"], state["_merge"] = None, set(), None
        state["_slot"] = np.zeros(0, np.int64)
        return state

    def __setstate__(self, state: dict) -> None:
        delta = upgrade(state, LAYOUT, _CACHE_K)  # an older snapshot's layout
        self.__dict__.update(state)
        d = self.__dict__
        for name, default in (("_strongest", {}), ("_dirty", set()), ("_touched", set()), ("_recut", None),
                              ("_recutting", set()), ("recent", _empty()), ("fresh", _empty()), ("max_lag_s", 0.0),
                              ("delta", SortedPairs()), ("merging", _empty()), ("_merge", None),
                              ("_slot", np.zeros(0, np.int64)), ("row_ttl_s", 0.0)):
            d.setdefault(name, default)
        d["_recut_after"] = 0.0
        d["_clock"] = time.monotonic
        d["_rows"], d["_cols"], d["_vals"] = array("q"), array("q"), array("d")
        d["_pending_since"] = 0.0
        if delta:  # an older snapshot's latest increments, whose weights are in the row sums already
            for item, row in delta.items():
                self._rows.extend(repeat(item, len(row)))
                self._cols.extend(row.keys())
                self._vals.extend(row.values())
            row_sums = self._row_sums.copy()
            self._fold()
            self._row_sums = grown(row_sums, len(self._row_sums))

    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of one item and their raw weights (an id may repeat across levels)."""
        self._sync()
        idx_parts, val_parts = [], []
        for level in (self.base, self.recent, self.merging, self.fresh):
            if item < level.shape[0]:
                start, end = level.indptr[item], level.indptr[item + 1]
                if end > start:
                    idx_parts.append(level.indices[start:end])
                    val_parts.append(level.data[start:end])
        if len(self.delta):
            idx, val = self.delta.row(item)
            if len(idx):
                idx_parts.append(idx)
                val_parts.append(val.astype(COUNT_DTYPE))  # as it will read once in ``fresh``
        if not idx_parts:
            return np.zeros(0, np.int32), np.zeros(0)
        if len(idx_parts) == 1:
            return idx_parts[0], val_parts[0]
        return sum_by_id(np.concatenate(idx_parts), np.concatenate(val_parts))

    def _head(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A superset of the row's ``k`` heaviest entries with their full weights, reading
        ``base``'s row once without sorting it (:func:`head_candidates`): a hot item's row,
        re-read after every batch that touches it, costs a scan plus what the batch added."""
        base = self.base
        if item >= base.shape[0] or base.indptr[item + 1] == base.indptr[item]:
            return self.row(item)
        self._sync()
        parts = [(level.indices[level.indptr[item]:level.indptr[item + 1]], level.data[level.indptr[item]:level.indptr[item + 1]])
                 for level in (self.recent, self.merging, self.fresh) if item < level.shape[0]]
        if len(self.delta):
            parts.append(self.delta.row(item))
        u_idx = np.concatenate([p[0] for p in parts]).astype(np.int64) if parts else np.zeros(0, np.int64)
        u_val = np.concatenate([p[1].astype(COUNT_DTYPE) for p in parts]).astype(np.float64) if parts else np.zeros(0)
        if len(parts) > 1:
            u_idx, u_val = sum_by_id(u_idx, u_val)
        size = max(base.shape[0], int(u_idx.max()) + 1 if len(u_idx) else 0)
        if len(self._slot) < size:
            self._slot = np.full(size, -1, np.int64)
        start, end = base.indptr[item], base.indptr[item + 1]
        return head_candidates(base.indices[start:end], base.data[start:end], u_idx, u_val, k, self._slot)

    def strongest(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` heaviest entries of a row, heaviest first (cached: hot items are everyone's seeds)."""
        pruned = self.pruned
        if pruned is not None and item not in self._touched and item not in self._recutting:
            k = min(k, self.cut_k)
            for level in (pruned, self.base):  # a re-cut row, else base's (heaviest first)
                if item < level.shape[0] and level.indptr[item + 1] > level.indptr[item]:
                    start = level.indptr[item]
                    end = min(level.indptr[item + 1], start + k)
                    return level.indices[start:end], level.data[start:end]
            return np.zeros(0, np.int32), np.zeros(0, COUNT_DTYPE)
        cached = self._strongest.get(item)
        if item in self._dirty:
            # A hot row changes with every batch; re-reading it per read made every read
            # under ingest pay for it. Within ``row_ttl_s`` the cached head is served instead.
            if cached is None or self.row_ttl_s <= 0 or self._clock() - cached[2] >= self.row_ttl_s:
                cached = None
                self._dirty.discard(item)
        if cached is not None and len(cached[0]) >= min(k, _CACHE_K):
            return cached[0][:k], cached[1][:k]
        keep_k = max(k, _CACHE_K)
        idx, val = self._head(item, keep_k)
        order = np.lexsort((idx, -val))[:keep_k]  # heaviest first, ties in column order (as the cut)
        idx, val = idx[order], val[order]
        if len(self._strongest) >= _CACHE_ITEMS:
            self._strongest.clear()
        self._strongest[item] = (idx, val, self._clock())
        return idx[:k], val[:k]

    def prune(self, k: int = _CACHE_K) -> None:
        """Precompute every row's ``k`` strongest entries, heaviest first (after a replay or bulk load).

        Reads slice the head of a row, many rows in one compiled gather; rows changed later
        take :meth:`strongest`'s per-item cache until a background re-cut. ``base`` keeps its
        rows heaviest first, so after a full compaction the cut is their heads: no copy, no sort.
        """
        self.compact(full=True)
        self.pruned = _empty(self.base.shape[0])  # no row re-cut yet
        self.cut_k = k
        self._touched = set()
        self._recut, self._recutting = None, set()
        self._strongest.clear()
        self._dirty = set()

    def stale_share(self) -> float:
        """Share of rows changed since :meth:`prune` (1.0 before any prune): reads of those rows
        take the slower per-item path, so a high share is a reason to prune again."""
        if self.pruned is None or not self.pruned.shape[0]:
            return 1.0
        return (len(self._touched) + len(self._recutting)) / self.pruned.shape[0]

    def entries(self, items: np.ndarray, weights: np.ndarray, per_item: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """Each seed's ``per_item`` strongest neighbours, cosine-weighted; ids may repeat across seeds.

        The cheap half of :meth:`neighbors` for callers that sum duplicates themselves (the
        serving merge does). Rows untouched since the cut are gathered in one compiled call
        (:func:`tastemaker.kernels.gather_cut_rows`: a re-cut row, else the head of ``base``'s).
        """
        row_sums = self.row_sums
        pruned = self.pruned
        if len(items) and int(items.max()) >= len(row_sums):  # items never co-visited have no row
            known = items < len(row_sums)
            items, weights = items[known], weights[known]
        factors = weights / np.sqrt(np.maximum(row_sums[items], 1e-9))
        parts_idx, parts_val = [], []
        # seeds whose pre-cut row is still valid are gathered together; the others one by one
        fast, slow = [], []
        size = max(pruned.shape[0], self.base.shape[0]) if pruned is not None else 0
        touched, recutting = self._touched, self._recutting
        for i, item in enumerate(items.tolist()):
            (fast if item < size and item not in touched and item not in recutting else slow).append(i)
        if fast:
            base = self.base
            parts = gather_cut_rows(base.indptr, base.indices, base.data, pruned.indptr, pruned.indices, pruned.data,
                                    items[fast], factors[fast], min(per_item, self.cut_k), row_sums)
            if not slow:
                return parts
            parts_idx.append(parts[0])
            parts_val.append(parts[1])
        for i in slow:
            idx, val = self.strongest(int(items[i]), per_item)
            if len(idx):
                parts_idx.append(idx.astype(np.int64))
                parts_val.append(val * factors[i] / np.sqrt(np.maximum(row_sums[idx], 1e-9)))
        if not parts_idx:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(parts_idx), np.concatenate(parts_val)

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
        return int(self.base.nnz) + int(self.recent.nnz) + int(self.merging.nnz) + self.delta_size
