"""rules.env: columns gathered once, membership O(candidates), subsets carry the cache."""

from __future__ import annotations

import math

import numpy as np

from tastemaker.rules.env import RuleEnv
from tests.rules.conftest import DAY, env_for


def test_columns_and_cache(catalog):
    env = env_for(catalog, "abf")
    assert env.column("price")[:2].tolist() == [10.0, 20.0] and math.isnan(env.column("price")[2])
    assert env.column("price") is env.column("price")
    assert env.column("age").tolist()[:2] == [DAY, 10 * DAY]
    assert env.column("properties.rating")[:2].tolist() == [4.5, 3.0]
    assert np.isnan(env.column("properties.unknown")).all()
    assert env.column("score").tolist() == [0.0, 0.0, 0.0]
    env.set_scores(np.array([1.0, 2.0, 3.0]))
    assert env.column("score").tolist() == [1.0, 2.0, 3.0]
    assert env.available().tolist() == [False, True, True]


def test_members_and_groups(catalog):
    env = env_for(catalog, "abcg")
    assert env.members(catalog.brand_members["Acme"]).tolist() == [True, True, False, False]
    assert env.members(set()).tolist() == [False] * 4
    assert env.group_labels("brand").tolist() == ["Acme", "Acme", "Bolt", None]
    assert env.group_labels("category").tolist() == ["shoes", "shoes", "hats", "sport"]


def test_subset_and_with_items(catalog):
    env = env_for(catalog, "abcd", scores=[4, 3, 2, 1], sources=["x"] * 4, context={"device": "tv"})
    env.column("price")
    sub = env.subset(np.array([True, False, True, False]))
    assert sub.column("price").tolist() == [10.0, 30.0] and sub.scores.tolist() == [4.0, 2.0]
    assert sub.context == {"device": "tv"}
    other = env.with_items(np.array([catalog.index.get("h")]))
    assert other.column("price").tolist() == [15.0]


def test_lazy_item_columns(catalog):
    calls = []

    def popularity():
        calls.append(1)
        return np.arange(8.0)

    env = RuleEnv(catalog, np.array([1, 7]), 0.0, item_columns={"popularity": popularity})
    assert calls == []
    assert env.column("popularity").tolist() == [1.0, 7.0]
    env2 = env.with_items(np.array([2]))
    assert env2.column("popularity").tolist() == [2.0] and calls == [1]
