"""models.blend_validation: the NDCG of blends on a candidate pool equals the evaluation's nDCG of the full ranking."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.evaluation.metrics import hits_at_k, n_relevant
from tastemaker.evaluation.metrics import ndcg_at_k as metrics_ndcg
from tastemaker.models.blend_validation import CandidatePool


def ndcg_at_k(scores: np.ndarray, seen: sp.csr_matrix, relevant: sp.csr_matrix, k: int) -> float:
    """The evaluation's nDCG@k of the full ranking by ``scores``, ``seen`` items removed."""
    S = np.array(scores, np.float64)
    S[sp.csr_matrix(seen).nonzero()] = -np.inf
    topk = np.argsort(-S, axis=1, kind="stable")[:, :k]
    n_rel = n_relevant(relevant)
    per_user = metrics_ndcg(hits_at_k(topk, relevant), n_rel)
    return float(per_user[n_rel > 0].mean())


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
