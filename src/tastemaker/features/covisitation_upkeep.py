"""Background upkeep of the co-visitation index: level merges and re-cuts, one job at a time.

The index (:class:`~tastemaker.features.covisitation.CoVisitationIndex`) calls
:meth:`BackgroundUpkeep._maybe_recut` after every fold. It installs a finished job and starts
the next when due: a merge of ``fresh`` into ``recent`` once ``fresh`` is full, of ``recent``
into ``base`` once ``recent`` is a quarter of ``base`` (an LSM tree's geometric levels), else
a re-cut of the rows changed since the cut. Jobs run in one worker thread, compiled with the
GIL released (features.covisitation_cut), so a merge that copies millions of entries never
holds the event loop; reads go on from the frozen level (``merging``) until the result is in.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

from tastemaker.features.covisitation_cut import LevelMergeJob, RecutJob
from tastemaker.features.covisitation_merge import COUNT_DTYPE

log = logging.getLogger(__name__)
CUT_K = 200  # entries per row a cut serves
RECUT_SHARE = 0.02  # re-cut changed rows in the background once this share of rows changed...
RECUT_MIN_ROWS = 1024  # ...and at least this many
RECUT_IDLE_FACTOR = 4.0  # after a re-cut of d seconds, none for 4 d: at most a fifth of a core under ingest


def empty_level(size: int = 0) -> sp.csr_matrix:
    return sp.csr_matrix((size, size), dtype=COUNT_DTYPE)


def resized(matrix: sp.csr_matrix, size: int) -> sp.csr_matrix:
    if matrix.shape == (size, size):
        return matrix
    matrix = matrix.tocsr()
    matrix.resize((size, size))
    return matrix


class BackgroundUpkeep:
    """The merge and re-cut scheduling of :class:`~tastemaker.features.covisitation.CoVisitationIndex`
    (a mixin: it reads and replaces the index's levels, cut and marks)."""

    def _maybe_recut(self) -> None:
        """Install finished background work (a level merge, a re-cut), then start the next when
        due: a merge when ``fresh`` is full or ``recent`` a quarter of ``base``, else a re-cut
        when enough rows changed. One job at a time (they share one worker thread)."""
        if self._merge is not None:
            if not self._merge.done():
                return
            self._install_merge()
        if self._recut is not None:
            if not self._recut.done():
                return
            self._install_recut()  # then maybe the next one: rows written meanwhile
        if self.fresh.nnz >= self.compact_every:
            return self._start_merge("recent")
        if self.recent.nnz >= self.compact_every and self.recent.nnz * 4 >= self.base.nnz:
            return self._start_merge("base")
        if time.monotonic() < self._recut_after:
            return
        if self.pruned is None:
            self._start_cutting()
        if self.pruned is not None and len(self._touched) >= max(RECUT_MIN_ROWS, RECUT_SHARE * self.pruned.shape[0]):
            self._flush_delta()  # the job reads the CSR levels: every count must be in them
            self._recutting, self._touched = self._touched, set()
            self._recut = RecutJob(self.pruned, [self.base, self.recent, self.fresh], self._recutting, self.cut_k)

    def _start_merge(self, target: str) -> None:
        """Freeze the level above ``target`` as ``merging`` (reads go on reading it) and merge it
        into ``target`` in the background; writes meanwhile land in a new, empty level."""
        if target == "recent":
            self.merging, self.fresh = self.fresh, empty_level()
            self._merge = LevelMergeJob("recent", self.recent, self.merging, reorder=True)
        else:  # ``base``'s rows stay heaviest first: its cut is their head
            self.merging, self.recent = self.recent, empty_level()
            self._merge = LevelMergeJob("base", self.base, self.merging, reorder=False)

    def _install_merge(self) -> None:
        """The merged level replaces its target; no count moves, so cuts and marks stay valid."""
        job, self._merge = self._merge, None
        if job.upper is not self.merging:
            return  # a compaction folded the frozen level meanwhile
        try:
            result = job.result()
        except Exception:  # keep every count: fold the frozen level the slow way instead
            log.exception("a background co-visitation merge into %s failed", job.target)
            self._absorb_merging()
            return
        setattr(self, job.target, result)
        self.merging = empty_level()

    def _absorb_merging(self) -> None:
        """Fold the frozen level into ``recent`` here and now (compactions, snapshots: a forked
        snapshot writer has no worker thread to wait for); a merge in flight is dropped."""
        self._merge = None
        if self.merging.nnz:
            size = max(self.recent.shape[0], self.merging.shape[0])
            self.recent = resized(self.recent, size) + resized(self.merging, size)
        self.merging = empty_level()

    def _start_cutting(self) -> None:
        """Begin serving from a cut once the index is large (a server loaded live, never pruned):
        every row with counts is marked changed, so background re-cuts build the cut while
        reads keep the exact path, instead of every read sorting its seeds' rows forever."""
        if np.count_nonzero(self._row_sums) < RECUT_MIN_ROWS:
            return
        self.pruned = empty_level(self.base.shape[0])
        self.cut_k = CUT_K
        self._touched = set(np.flatnonzero(self._row_sums).tolist())

    def _install_recut(self) -> None:
        job, self._recut = self._recut, None
        self._recut_after = time.monotonic() + RECUT_IDLE_FACTOR * job.seconds
        try:
            if job.pruned is self.pruned:  # else a full prune replaced the cut meanwhile
                self.pruned = job.result()
                self._recutting = set()
        except Exception:  # reads must not fail for an optimisation: those rows stay on the exact path
            log.exception("re-cutting %d co-visitation rows failed", len(self._recutting))
        self._touched |= self._recutting
        self._recutting = set()
