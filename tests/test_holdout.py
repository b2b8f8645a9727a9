"""tastemaker.holdout: the held-out cells every split uses, and binary nDCG, by known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.holdout import (
    cell_times,
    ideal_dcg,
    latest_holdout,
    ndcg,
    random_holdout,
    split_by_mask,
    time_cut_holdout,
)


def test_random_holdout_keeps_the_floor_share_and_partitions():
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((30, 40)) < 0.3).astype(np.float32))
    held_mask = random_holdout(X, 0.4, seed=1)
    kept, held = split_by_mask(X, held_mask)
    assert (kept + held - X).nnz == 0 and kept.multiply(held).nnz == 0
    n = np.diff(X.indptr)
    expect_kept = np.where(n >= 2, np.maximum(np.floor(0.6 * n + 1e-9), 1), n)
    np.testing.assert_array_equal(np.diff(kept.indptr), expect_kept)
    np.testing.assert_array_equal(random_holdout(X, 0.4, seed=1), held_mask)  # deterministic
    assert (random_holdout(X, 0.4, seed=2) != held_mask).any()
    with pytest.raises(ValueError, match="fraction"):
        random_holdout(X, 1.0, seed=0)


def test_time_cut_and_latest_known_answers():
    X = sp.csr_matrix(np.array([[1, 1, 1, 0], [0, 2, 0, 2], [0, 0, 3, 0]], np.float32))
    T = sp.csr_matrix(np.array([[5, 9, 1, 0], [0, 3, 0, 7], [0, 0, 8, 0]], np.float64))
    times = cell_times(X, T)
    assert times.tolist() == [5, 9, 1, 3, 7, 8]
    kept, held = split_by_mask(X, time_cut_holdout(times, 0.5))  # the 3 latest: t = 7, 8, 9
    assert held.toarray().tolist() == [[0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 3, 0]]
    kept, held = split_by_mask(X, latest_holdout(X, times, seed=0))  # a user with one cell keeps it
    assert held.toarray().tolist() == [[0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 0, 0]]
    assert kept.toarray().tolist() == [[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 3, 0]]
    assert time_cut_holdout(np.array([1.0, 2.0, 2.0]), 0.3).tolist() == [False, True, True]  # ties held out


def test_latest_holdout_breaks_ties_by_seed_not_by_item():
    X = sp.csr_matrix(np.ones((1, 6), np.float32))
    times = np.zeros(6)  # one second for every rating, as ML-100k often has
    picked = {int(np.flatnonzero(latest_holdout(X, times, seed))[0]) for seed in range(20)}
    assert len(picked) > 1


def test_cell_times_counts_a_cell_without_a_time_as_oldest():
    X = sp.csr_matrix(np.array([[1, 1, 0]], np.float32))
    assert cell_times(X, sp.csr_matrix(np.array([[0.0, 4.0, 9.0]]))).tolist() == [0.0, 4.0]


def test_ndcg_known_answers():
    hits = np.array([[False, True, True], [True, False, False], [False, False, False]])
    n_rel = np.array([2, 1, 0])
    u0 = (1 / np.log2(3) + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    np.testing.assert_allclose(ndcg(hits, n_rel), [u0, 1.0, 0.0])
    assert ideal_dcg(np.array([0, 5]), 2).tolist() == [0.0, 1 + 1 / np.log2(3)]
