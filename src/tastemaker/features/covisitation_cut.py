"""The pre-cut co-visitation matrix: every row's strongest entries, heaviest first.

:class:`~tastemaker.features.covisitation.CoVisitationIndex` serves reads from such a cut
(one gather for all of a user's seeds). Rows written after the cut take a slower per-item
path, so a server under steady ingest drifts towards it: after 600k events on 100k items,
a recommendation cost twice the CPU. :class:`RecutJob` re-cuts just the changed rows in a
background thread (one compiled pass per row, :func:`tastemaker.kernels.cut_rows`, which
releases the GIL) and splices them into the cut, without stopping reads or writes.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

import numpy as np
import scipy.sparse as sp

from tastemaker.features.covisitation_merge import merged
from tastemaker.kernels import cut_rows

_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="covisitation-recut")
_EMPTY_LEVEL = (np.zeros(1, np.int32), np.zeros(0, np.int32), np.zeros(0))


def cut(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` heaviest entries, heaviest first (ties in column order).

    >>> m = sp.csr_matrix(np.array([[0, 1.0, 3.0, 2.0], [5.0, 0, 0, 0]]))
    >>> c = cut(m, 2)
    >>> c.indices.tolist(), c.data.tolist(), c.indptr.tolist()
    ([2, 3, 0], [3.0, 2.0, 5.0], [0, 2, 3])
    """
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int32), np.diff(matrix.indptr))
    order = np.lexsort((-matrix.data, rows))  # by row, heaviest first within a row
    rank = np.arange(matrix.nnz) - matrix.indptr[rows[order]]
    order = order[rank < k]
    counts = np.bincount(rows[order], minlength=matrix.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(matrix.indptr.dtype)
    return sp.csr_matrix((matrix.data[order], matrix.indices[order], indptr), shape=matrix.shape)


def splice(pruned: sp.csr_matrix, rows: np.ndarray, fresh_cut: sp.csr_matrix) -> sp.csr_matrix:
    """``pruned`` with ``rows`` replaced by those of ``fresh_cut`` (which may be taller).

    Within a row the entries keep their order (heaviest first), so no per-row sort is needed.
    """
    size = max(pruned.shape[0], fresh_cut.shape[0])
    replaced = np.zeros(size, bool)
    replaced[rows] = True
    old_rows = np.repeat(np.arange(pruned.shape[0], dtype=np.int64), np.diff(pruned.indptr))
    keep = ~replaced[old_rows]
    new_rows = np.repeat(np.arange(fresh_cut.shape[0], dtype=np.int64), np.diff(fresh_cut.indptr))
    all_rows = np.concatenate([old_rows[keep], new_rows])
    order = np.argsort(all_rows, kind="stable")  # two sorted runs: a linear merge
    indices = np.concatenate([pruned.indices[keep], fresh_cut.indices])[order]
    data = np.concatenate([pruned.data[keep], fresh_cut.data])[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(all_rows, minlength=size))])
    return sp.csr_matrix((data, indices, indptr), shape=(size, size))


class RecutJob:
    """Re-cut ``rows`` from the captured levels in the background; :meth:`result` when done.

    The levels' arrays are captured on the caller's thread: writers replace matrices rather
    than change their arrays, so the capture stays consistent while the thread reads it.
    """

    def __init__(self, pruned: sp.csr_matrix, levels: list[sp.csr_matrix], rows: set[int], k: int):
        self.pruned = pruned
        self.rows = rows
        self.seconds = 0.0  # how long the re-cut took, once done
        self.size = max([pruned.shape[0], *(m.shape[0] for m in levels)])
        captured = [(m.indptr, m.indices, m.data) for m in levels if m.nnz]
        self._future: Future = _worker.submit(self._run, captured, np.fromiter(rows, np.int64, len(rows)), k)

    def _run(self, levels: list[tuple[np.ndarray, ...]], rows: np.ndarray, k: int) -> sp.csr_matrix:
        started = time.perf_counter()
        try:
            return self._recut(levels, rows, k)
        finally:
            self.seconds = time.perf_counter() - started

    def _recut(self, levels: list[tuple[np.ndarray, ...]], rows: np.ndarray, k: int) -> sp.csr_matrix:
        rows = np.sort(rows)
        padded = [*levels, *[_EMPTY_LEVEL] * (3 - len(levels))]
        indptr, indices, data = cut_rows(rows, k, *(a for level in padded for a in level))
        counts = np.zeros(self.size, np.int64)
        counts[rows] = np.diff(indptr)
        full_indptr = np.concatenate([[0], np.cumsum(counts)])
        data = data.astype(self.pruned.dtype)  # the levels' count type (float32), rounded once
        return splice(self.pruned, rows, sp.csr_matrix((data, indices, full_indptr), shape=(self.size, self.size)))

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the re-cut has finished (or failed); ``True`` once it has.

        For callers that must observe the outcome (tests, shutdown): waiting on the job's own
        completion signal rather than polling :meth:`done` against a clock, which gives a
        wrong verdict on a loaded machine.
        """
        done, _ = wait([self._future], timeout=timeout)
        return bool(done)

    def result(self) -> sp.csr_matrix:
        return self._future.result()


class LevelMergeJob:
    """``lower + upper``, two levels of the co-visitation LSM tree, merged in the background
    thread (:func:`~tastemaker.features.covisitation_merge.merged`: compiled, GIL released),
    so a merge that copies a large level never holds the event loop. ``target`` names the
    level the result replaces (``recent`` or ``base``); ``upper`` is the frozen level, read
    by requests until the result is installed.
    """

    def __init__(self, target: str, lower: sp.csr_matrix, upper: sp.csr_matrix, reorder: bool):
        self.target, self.upper = target, upper
        size = max(lower.shape[0], upper.shape[0])
        self._future: Future = _worker.submit(merged, lower, upper, size, reorder)

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> bool:
        done, _ = wait([self._future], timeout=timeout)
        return bool(done)

    def result(self) -> sp.csr_matrix:
        return self._future.result()
