"""Cutting rows to their strongest entries, splicing re-cut rows, and the background re-cut."""

from __future__ import annotations

import pickle

import numpy as np
import scipy.sparse as sp

from tastemaker.features import covisitation_upkeep as upkeep
from tastemaker.features import covisitation as cv
from tastemaker.features.covisitation import CoVisitationIndex
from tastemaker.features.covisitation_cut import cut, splice


def test_cut_keeps_the_k_heaviest_heaviest_first_ties_in_column_order() -> None:
    m = sp.csr_matrix(np.array([[0, 2.0, 2.0, 5.0, 1.0], [0, 0, 0, 0, 0], [1.0, 0, 0, 0, 0]]))
    c = cut(m, 3)
    assert c.indptr.tolist() == [0, 3, 3, 4]
    assert c.indices.tolist() == [3, 1, 2, 0]
    assert c.data.tolist() == [5.0, 2.0, 2.0, 1.0]


def test_splice_replaces_only_the_given_rows_and_grows() -> None:
    pruned = cut(sp.csr_matrix(np.array([[0, 3.0, 1.0], [2.0, 0, 4.0], [1.0, 1.0, 0]])), 2)
    fresh = cut(sp.csr_matrix((np.array([9.0, 7.0]), (np.array([1, 3]), np.array([3, 1]))), shape=(4, 4)), 2)
    out = splice(pruned, np.array([1, 3]), fresh)
    assert out.shape == (4, 4)
    rows = [(out.indices[out.indptr[r]:out.indptr[r + 1]].tolist(), out.data[out.indptr[r]:out.indptr[r + 1]].tolist())
            for r in range(4)]
    assert rows == [([1, 2], [3.0, 1.0]), ([3], [9.0]), ([0, 1], [1.0, 1.0]), ([1], [7.0])]


def _random_index(rng: np.random.Generator, n_items: int, n_adds: int) -> CoVisitationIndex:
    cov = CoVisitationIndex(compact_every=5_000)
    for _ in range(n_adds):
        cov.add(int(rng.integers(n_items)), rng.integers(0, n_items, 3).tolist(), float(rng.integers(1, 4)))
    return cov


def test_background_recut_serves_what_a_full_prune_would(monkeypatch) -> None:
    monkeypatch.setattr(upkeep, "RECUT_MIN_ROWS", 50)
    rng = np.random.default_rng(3)
    cov = _random_index(rng, 400, 3_000)
    cov.prune()
    for _ in range(2_000):  # touches most rows after the cut
        cov.add(int(rng.integers(450)), rng.integers(0, 450, 3).tolist(), 1.0)
    cov.row_sums  # noqa: B018 (folds; starts the background work)
    while cov._merge is not None:  # level merges go first, one job at a time; then the re-cut
        cov._merge.wait()
        cov.row_sums  # noqa: B018
    assert cov._recut is not None
    assert cov._recut.wait()  # the job's completion, however long a loaded machine takes
    seeds, weights = np.arange(450), np.ones(450)
    cov.row_sums  # noqa: B018 (installs it)
    assert cov._recut is None and not cov._recutting and cov.stale_share() == 0.0
    got = cov.entries(seeds, weights, per_item=20)
    reference = pickle.loads(pickle.dumps(cov))
    reference.prune()
    expected = reference.entries(seeds, weights, per_item=20)
    assert got[0].tolist() == expected[0].tolist()
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


def _recutting_index(monkeypatch, seed: int) -> CoVisitationIndex:
    """An index cut once, then written to until a background re-cut started."""
    monkeypatch.setattr(upkeep, "RECUT_MIN_ROWS", 50)
    rng = np.random.default_rng(seed)
    cov = _random_index(rng, 300, 2_000)
    cov.prune()
    for _ in range(1_000):
        cov.add(int(rng.integers(300)), rng.integers(0, 300, 3).tolist(), 1.0)
    cov.row_sums  # noqa: B018 (folds; starts the background work)
    while cov._merge is not None:  # level merges go first, one job at a time; then the re-cut
        cov._merge.wait()
        cov.row_sums  # noqa: B018
    assert cov._recut is not None
    return cov


def test_rows_written_during_a_recut_stay_on_the_exact_path(monkeypatch) -> None:
    cov = _recutting_index(monkeypatch, 5)
    cov.add(7, [8], 50.0)  # written while the job runs: not in its capture
    cov.row_sums  # noqa: B018 (may already install a finished job)
    while cov._recut is not None:  # wait for and install it; rows written meanwhile may start the next one
        cov._recut.wait()
        cov.row_sums  # noqa: B018
    assert 7 in cov._touched  # still read the slow, exact way
    idx, val = cov.strongest(7, 1)
    assert idx.tolist() == [8]


def test_a_snapshot_taken_during_a_recut_keeps_its_rows_marked(monkeypatch) -> None:
    cov = _recutting_index(monkeypatch, 7)
    marked = cov._touched | cov._recutting
    restored = pickle.loads(pickle.dumps(cov))
    assert restored._recut is None and restored._touched == marked


def test_a_failed_recut_leaves_its_rows_on_the_exact_path(monkeypatch) -> None:
    cov = _recutting_index(monkeypatch, 9)

    def broken(*args):
        raise MemoryError("no room for the re-cut")

    monkeypatch.setattr(cov._recut, "result", broken)
    # no follow-up re-cut of the returned rows right away (a fast failed job would allow one at once)
    monkeypatch.setattr(upkeep, "RECUT_IDLE_FACTOR", 1e9)
    cov._recut.wait()
    rows = set(cov._recutting)
    old_cut = cov.pruned
    cov._maybe_recut()  # installs: the failure is logged, not raised into a read
    assert cov.pruned is old_cut and cov._recut is None
    assert rows <= cov._touched and not cov._recutting
    idx, _ = cov.strongest(next(iter(rows)), 5)  # still answered, the exact way
    assert len(idx)
