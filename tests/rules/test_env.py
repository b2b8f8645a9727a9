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


def test_block_columns_agree_with_the_catalog_arrays(catalog):
    from tastemaker.schema.records import Item

    ids = "abcdefgh"
    env = env_for(catalog, ids)
    items = env.items
    for name in ("price", "margin", "stock", "created_at"):
        np.testing.assert_array_equal(env.column(name), getattr(catalog, name)[items])
    assert env.available().tolist() == catalog.available[items].tolist()
    assert env.group_codes("brand").tolist() == catalog.brand_code[items].tolist()
    assert env.group_codes("category").tolist() == catalog.category_code[items].tolist()
    # a subset re-indexes the block; its columns agree too
    sub = env.subset(np.array([7, 0, 3]))
    assert sub.column("price").tolist()[1:] == [10.0, 40.0] and sub.group_codes("brand").tolist() == \
        catalog.brand_code[items[[7, 0, 3]]].tolist()
    # an update shows in the next request's env
    catalog.upsert(Item(id="b", price=21.0, stock=0, brand="Bolt"))
    again = env_for(catalog, ids)
    assert again.column("price")[1] == 21.0 and not again.available()[1]
    assert again.group_codes("brand")[1] == catalog.brand_ids["Bolt"]
    # a candidate beyond the catalog's arrays (known from events only): columns by fill values
    beyond = len(catalog.known) + 5
    far = RuleEnv(catalog, np.array([items[0], beyond]), 0.0)
    assert far.block() is None
    assert far.column("price")[0] == 10.0 and math.isnan(far.column("price")[1])
    assert far.available().tolist() == [False, False] and far.group_codes("brand")[1] == -1
