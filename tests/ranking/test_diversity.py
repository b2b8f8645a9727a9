"""ranking.diversity: MMR picks, the λ extremes, catalog category features."""

from __future__ import annotations

import numpy as np

from tastemaker.features.catalog import CatalogView
from tastemaker.features.item_index import ItemIndex
from tastemaker.ranking.diversity import category_features, embedding_features, mmr, normalise, unit_rows
from tastemaker.rules.env import RuleEnv
from tastemaker.schema.records import Item


def test_lambda_extremes_and_interleaving():
    rel = np.array([1.0, 0.95, 0.9, 0.85, 0.8, 0.1])
    f = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0.7, 0.7]], dtype=float)
    assert mmr(rel, f, k=4, diversity=0.0).tolist() == [0, 1, 2, 3, 4, 5]
    assert mmr(rel, f, k=4, diversity=0.3).tolist()[:2] == [0, 3]  # the best of the other cluster next
    order = mmr(rel, f, k=6, diversity=1.0).tolist()
    assert order[:2] == [0, 3] and sorted(order) == list(range(6))
    # a permutation whatever k, the tail in relevance order
    assert mmr(rel, f, k=2, diversity=0.5).tolist() == [0, 3, 1, 2, 4, 5]


def test_degenerate_inputs():
    assert mmr(np.array([1.0]), np.ones((1, 2)), k=5, diversity=0.5).tolist() == [0]
    assert mmr(np.array([2.0, 3.0]), np.zeros((2, 2)), k=2, diversity=0.5).tolist() == [1, 0]
    assert normalise(np.array([2.0, 2.0])).tolist() == [1.0, 1.0]
    assert unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist() == [[0.6, 0.8], [0.0, 0.0]]


def test_precomputed_similarity():
    rel = np.array([1.0, 0.9, 0.8])
    sim = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=float)
    assert mmr(rel, None, k=2, diversity=0.5, similarity=sim).tolist() == [0, 2, 1]  # type: ignore[arg-type]


def test_catalog_features():
    cat = CatalogView(ItemIndex())
    for i, cats in enumerate([["a"], ["a", "b"], [], ["c"]]):
        cat.upsert(Item(id=str(i), categories=cats))
    env = RuleEnv(cat, np.array([3, 1, 2]), 0.0)
    feats, vocab = category_features(env)
    assert vocab == {"c": 0, "a": 1, "b": 2}
    assert feats.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    emb = np.arange(6, dtype=float).reshape(3, 2)
    assert embedding_features(env, emb).tolist() == [[0, 0], [2, 3], [4, 5]]


def test_group_codes_match_one_hot_rows():
    rng = np.random.default_rng(1)
    codes = rng.integers(-1, 4, 40)
    onehot = np.zeros((40, 4))
    onehot[codes >= 0, codes[codes >= 0]] = 1
    rel = rng.random(40)
    for lam in (0.2, 0.5, 0.9):
        assert mmr(rel, codes, 10, lam).tolist() == mmr(rel, onehot, 10, lam).tolist()


def test_mean_penalty():
    import pytest

    rel = np.array([1.0, 0.9, 0.85, 0.8])
    f = np.array([[1, 0], [1, 0], [0.6, 0.8], [0, 1]], dtype=float)
    # max: item 2 is close to nothing picked after 0 and 3 ... mean: same first pick, a permutation always
    for penalty in ("max", "mean"):
        order = mmr(rel, f, 3, 0.5, penalty=penalty)
        assert order[0] == 0 and sorted(order.tolist()) == [0, 1, 2, 3]
    assert mmr(rel, f, 3, 0.5, penalty="max").tolist() != mmr(rel, f, 3, 0.0, penalty="max").tolist()
    with pytest.raises(ValueError):
        mmr(rel, f, 3, 0.5, penalty="sum")
