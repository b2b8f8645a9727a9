"""Whole-pipeline sanity check on ML-100k: popularity under protocol (a) gives nDCG@10 ~0.26.

Protocol (a) as in the published anchors: every rating is an interaction (binary
relevance), per-user random 75/25 split, seen items removed, users with test items only,
k = 10, mean of seeds 0, 1, 2. The popularity scorer is the tests' own (``helpers.Popularity``)
on purpose: this checks the evaluation harness, not the model families.
"""

from __future__ import annotations

import pytest

from tastemaker.datasets.interactions import build_interactions
from tastemaker.evaluation.evaluate import evaluate_families
from tastemaker.evaluation.metrics import category_features

from .helpers import Popularity

pytest.importorskip("recbole", reason="ML-100k ships inside recbole")


def test_popularity_ndcg_on_ml100k_protocol_a():
    from tastemaker.datasets import load_ml100k

    ds = load_ml100k()
    data = build_interactions(ds.events, binary=True, rating_neutral=0.0)
    assert data.shape == (943, 1682) and data.matrix.nnz == 100_000
    rows = evaluate_families({"popularity": Popularity}, data, "random", seeds=[0, 1, 2], k=10,
                             item_features=category_features(ds.items, data.item_ids))
    row = rows[0]
    print(f"\nML-100k protocol (a) popularity: ndcg@10={row['ndcg@10']:.4f} "
          f"precision@10={row['precision@10']:.4f}, "
          f"recall@10={row['recall@10']:.4f}, users={row['n_users']:.0f}")
    assert row["n_users"] == 943
    assert 0.24 <= row["ndcg@10"] <= 0.28
    assert row["ndcg@10_std"] < 0.01
