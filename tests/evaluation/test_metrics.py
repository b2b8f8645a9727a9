"""Metrics against hand-computed values (the arithmetic is written out beside each number)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker.evaluation import metrics as M


def rel_matrix(rows: list[list[int]], n_items: int = 10) -> sp.csr_matrix:
    r = [u for u, items in enumerate(rows) for _ in items]
    c = [i for items in rows for i in items]
    return sp.csr_matrix((np.ones(len(c), np.float32), (r, c)), shape=(len(rows), n_items))


# user 0: relevant {1, 5, 9}, list [3, 1, 7, 0, 5] -> hits at ranks 2 and 5
# user 1: relevant {2},       list [2, 4] + padding -> hit at rank 1
# user 2: relevant {8},       list [0, 1, 3, 4, 6] -> no hit
TOPK = np.array([[3, 1, 7, 0, 5], [2, 4, -1, -1, -1], [0, 1, 3, 4, 6]])
REL = rel_matrix([[1, 5, 9], [2], [8]])
L2, L3, L6 = math.log2(3), math.log2(4), math.log2(6)


def test_hits():
    assert M.hits_at_k(TOPK, REL).tolist() == [
        [False, True, False, False, True], [True, False, False, False, False], [False] * 5]


def test_precision_recall_hit_rate():
    per = M.ranking_metrics(TOPK, REL)
    assert per["precision@5"] == pytest.approx([2 / 5, 1 / 5, 0.0])   # hits / k
    assert per["recall@5"] == pytest.approx([2 / 3, 1 / 1, 0.0])      # hits / |rel|
    assert per["hit_rate@5"] == pytest.approx([1.0, 1.0, 0.0])


def test_ndcg():
    # user 0: DCG = 1/log2(3) + 1/log2(6) = 0.63093 + 0.38685 = 1.01778
    #         IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5 = 2.13093
    #         nDCG = 1.01778 / 2.13093 = 0.47762
    per = M.ranking_metrics(TOPK, REL)
    assert per["ndcg@5"][0] == pytest.approx((1 / L2 + 1 / L6) / (1 + 1 / L2 + 1 / L3))
    assert per["ndcg@5"][0] == pytest.approx(0.47762, abs=1e-5)
    assert per["ndcg@5"][1:].tolist() == [1.0, 0.0]


def test_map_and_mrr():
    # user 0: precision@2 = 1/2 and precision@5 = 2/5 at the hits; AP = (0.5 + 0.4) / min(3, 5) = 0.3
    per = M.ranking_metrics(TOPK, REL)
    assert per["map@5"] == pytest.approx([0.3, 1.0, 0.0])
    assert per["mrr@5"] == pytest.approx([0.5, 1.0, 0.0])  # first hit at ranks 2, 1, none
    means = M.mean_metrics(per)
    assert means["map@5"] == pytest.approx(1.3 / 3)
    assert means["ndcg@5"] == pytest.approx((0.47762 + 1.0) / 3, abs=1e-5)


def test_ndcg_ideal_capped_at_k():
    # 4 relevant items, k = 2, both ranks hit -> ideal DCG also has only 2 hits -> 1.0
    h = M.hits_at_k(np.array([[0, 1]]), rel_matrix([[0, 1, 2, 3]]))
    assert M.ndcg_at_k(h, np.array([4])).tolist() == [1.0]
    assert M.average_precision_at_k(h, np.array([4])).tolist() == [1.0]  # / min(4, 2)


def brute_ndcg(ranked: list[int], relevant: set[int], k: int) -> float:
    dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(ranked[:k]) if i in relevant)
    idcg = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / idcg if idcg else 0.0


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_ndcg_matches_reference(data):
    n_items, k = 12, data.draw(st.integers(1, 6))
    rel = data.draw(st.lists(st.sets(st.integers(0, n_items - 1), min_size=1), min_size=1, max_size=5))
    ranked = [data.draw(st.permutations(range(n_items)))[:k] for _ in rel]
    got = M.ranking_metrics(np.array(ranked), rel_matrix([sorted(s) for s in rel], n_items))
    want = [brute_ndcg(r, s, k) for r, s in zip(ranked, rel)]
    assert got[f"ndcg@{k}"] == pytest.approx(want)


def test_coverage():
    # items {0,1,2,3,4,5,6,7} recommended out of 10
    assert M.catalogue_coverage(TOPK, 10) == pytest.approx(0.8)


def test_novelty():
    # p = [1/2, 1/4, 1/8, 1]: -log2 p = [1, 2, 3, 0]; lists [0,1] -> 1.5, [2,3] -> 1.5, [3,-1] -> 0
    pop = np.array([0.5, 0.25, 0.125, 1.0])
    assert M.novelty(np.array([[0, 1], [2, 3], [3, -1]]), pop).tolist() == [1.5, 1.5, 0.0]
    # an unseen item (p = 0) counts as the rarest seen item (1/8 -> 3 bits)
    assert M.novelty(np.array([[0, 1]]), np.array([0.0, 0.125])).tolist() == [3.0]


def test_item_popularity():
    train = rel_matrix([[0, 1], [0], [0, 2], [3]], n_items=5)
    assert M.item_popularity(train).tolist() == [0.75, 0.25, 0.25, 0.25, 0.0]


def test_popularity_bias():
    pop = np.array([0.5, 0.1, 0.9, 0.3])
    # (0.5 + 0.1) / 2 = 0.3; (0.9 + 0.3 + 0.5) / 3 = 0.5667
    got = M.popularity_bias(np.array([[0, 1, -1], [2, 3, 0]]), pop)
    assert got == pytest.approx([0.3, 1.7 / 3])


def test_intra_list_diversity_categories():
    # categories: 0 {a}, 1 {a}, 2 {b}, 3 {a, b}, 4 {} (no features)
    items = [{"id": "0", "categories": ["a"]}, {"id": "1", "categories": ["a"]},
             {"id": "2", "categories": ["b"]}, {"id": "3", "categories": ["a", "b"]},
             {"id": "4", "categories": []}]
    feats = M.category_features(items, ["0", "1", "2", "3", "4"])
    # list [0,1,2,3]: cos(0,1)=1, cos(0,2)=0, cos(0,3)=1/sqrt2, cos(1,2)=0, cos(1,3)=1/sqrt2,
    # cos(2,3)=1/sqrt2 -> mean = (1 + 3/sqrt2) / 6 = 0.52022 -> ILD = 0.47978
    # list [0,4]: cos = 0 -> 1.0; list [0,1]: identical -> 0.0; list [2]: no pair -> NaN
    got = M.intra_list_diversity(np.array([[0, 1, 2, 3], [0, 4, -1, -1], [0, 1, -1, -1],
                                           [2, -1, -1, -1]]), feats)
    assert got[:3] == pytest.approx([1 - (1 + 3 / math.sqrt(2)) / 6, 1.0, 0.0])
    assert math.isnan(got[3])
    assert M.mean_metrics({"d": got})["d"] == pytest.approx((0.47978 + 1.0 + 0.0) / 3, abs=1e-5)


def test_intra_list_diversity_dense_embeddings():
    # unit vectors at 0, 90 and 180 degrees: cos = 0, -1, 0 -> mean -1/3 -> ILD 4/3
    emb = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
    assert M.intra_list_diversity(np.array([[0, 1, 2]]), emb) == pytest.approx([4 / 3])


def test_empty_relevance_and_all_padding():
    assert M.hits_at_k(np.array([[0, 1]]), sp.csr_matrix((1, 3))).tolist() == [[False, False]]
    per = M.ranking_metrics(np.full((1, 3), -1), rel_matrix([[1]], 3))
    assert all(v.tolist() == [0.0] for v in per.values())
    assert M.catalogue_coverage(np.full((2, 3), -1), 5) == 0.0
