"""models.blend_validation: the hybrid's validation splits and the NDCG of blends on a candidate pool."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models.blend_validation import CandidatePool, holdout_split, ndcg_at_k, time_holdout_split


def test_holdout_split_is_a_stratified_partition():
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((30, 40)) < 0.3).astype(np.float32))
    kept, held = holdout_split(X, 0.25, seed=1)
    assert (kept + held - X).nnz == 0
    assert kept.multiply(held).nnz == 0
    n = np.diff(X.indptr)
    h = np.diff(held.indptr)
    expect = np.where(n >= 2, np.clip(np.round(0.25 * n), 1, n - 1), 0)
    np.testing.assert_array_equal(h, expect)
    k2, h2 = holdout_split(X, 0.25, seed=1)
    assert (k2 != kept).nnz == 0 and (h2 != held).nnz == 0


def test_ndcg_at_k_hand_computed():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    rel = sp.csr_matrix(np.array([[0, 0, 1, 1], [1, 0, 0, 0]], dtype=np.float32))
    # user 0: ranking (seen removed) 1, 2, 3 -> hits at ranks 2, 3; ideal 2 hits at 1, 2
    u0 = (1 / np.log2(3) + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    # user 1: ranking 3, 2, 1 (k=3) -> item 0 not in the top 3
    assert ndcg_at_k(scores, seen, rel, k=3) == pytest.approx((u0 + 0.0) / 2)
    assert ndcg_at_k(scores, seen, rel, k=4) == pytest.approx((u0 + 1 / np.log2(5)) / 2)


def test_time_holdout_split_known_answer():
    X = sp.csr_matrix(np.array([[1, 1, 1, 0], [0, 2, 0, 2], [0, 0, 3, 0]], np.float32))
    T = sp.csr_matrix(np.array([[5, 9, 1, 0], [0, 3, 0, 7], [0, 0, 8, 0]], np.float64))
    kept, held = time_holdout_split(X, T, 0.5)  # 6 entries: the 3 latest (t = 7, 8, 9) held out
    assert held.toarray().tolist() == [[0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 3, 0]]
    assert (kept + held - X).nnz == 0
    kept, held = time_holdout_split(X, T, 0.5, per_user=True)  # each user's latest; user 2 has one
    assert held.toarray().tolist() == [[0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 0, 0]]
    assert kept.toarray().tolist() == [[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 3, 0]]


def test_candidate_pool_ndcg_equals_the_full_ranking():
    rng = np.random.default_rng(0)
    n_rows, n_items = 40, 60
    A, Bm = rng.random((n_rows, n_items)).astype(np.float32), rng.random((n_rows, n_items)).astype(np.float32)
    kept = sp.csr_matrix((rng.random((n_rows, n_items)) < 0.2).astype(np.float32))
    held = sp.csr_matrix(((rng.random((n_rows, n_items)) < 0.15) & (kept.toarray() == 0)).astype(np.float32))
    full = CandidatePool({"a": A, "b": Bm}, kept, held, 10, None)
    assert full.ndcg(full.G["a"] + full.mask) == pytest.approx(ndcg_at_k(A, kept, held, 10))
    blend = A + 0.5 * Bm
    assert full.ndcg(full.G["a"] + 0.5 * full.G["b"] + full.mask) == pytest.approx(ndcg_at_k(blend, kept, held, 10))
    # a pool of each member's top 20: its single-member rankings are exact by construction
    small = CandidatePool({"a": A, "b": Bm}, kept, held, 10, 20)
    assert small.G["a"].shape[1] <= 40
    assert small.ndcg(small.G["a"] + small.mask) == pytest.approx(ndcg_at_k(A, kept, held, 10))
    assert small.ndcg(small.G["b"] + small.mask) == pytest.approx(ndcg_at_k(Bm, kept, held, 10))
    # held-out items outside the pool are misses that still count in the ideal DCG
    S = np.zeros((1, 6), np.float32); S[0, :3] = [3, 2, 1]
    one = CandidatePool({"a": S}, sp.csr_matrix((1, 6)), sp.csr_matrix(([1.0, 1.0], ([0, 0], [0, 5])), shape=(1, 6)), 2, 1)
    # pool = {item 0}; ranking [0]: one hit at rank 1 of two relevant -> 1 / (1 + 1/log2(3))
    assert one.ndcg(one.G["a"] + one.mask) == pytest.approx(1.0 / (1.0 + 1.0 / np.log2(3)))
