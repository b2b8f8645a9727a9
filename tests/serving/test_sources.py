"""serving.sources: each candidate source on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.schema.records import Item
from tastemaker.serving.sources import (
    RECENCY_DECAY,
    SOURCES,
    _recent_seeds,
    category_affinity,
    context_popular,
    covisitation,
    popular,
    seed_covisitation,
    session_covisitation,
    trending,
    user_model,
)


def names(world, items) -> list[str]:
    return [world.state.index.ids[i] for i in np.asarray(items).tolist()]


def test_recent_seeds_weight_recency_and_event_strength(world):
    world.event("view", "u", "a")
    world.event("purchase", "u", "b")
    world.event("click", "u", "a")
    seeds, weights = _recent_seeds(world.state.users["u"])
    assert names(world, seeds) == ["a", "b"]
    np.testing.assert_allclose(weights, [2.0, RECENCY_DECAY * 6.0])
    assert len(_recent_seeds(None)[0]) == 0


def test_recent_seeds_session_only(world):
    world.event("view", "u", "old", session="s1")
    world.event("view", "u", "new", session="s2")
    seeds, weights = _recent_seeds(world.state.users["u"], session_only=True)
    assert names(world, seeds) == ["new"] and weights.tolist() == [1.0]


def test_covisitation_source(shop):
    shop.event("view", "u", "x0")
    items, scores, seeds = covisitation(shop.ctx(), 10)
    assert names(shop, items)[:2] == ["x1", "x2"]  # 6 co-views beat 3
    assert names(shop, seeds) == ["x0"]
    assert np.all(np.diff(scores) <= 0)
    assert covisitation(shop.ctx("stranger"), 10)[0].size == 0


def test_session_covisitation_ignores_earlier_sessions(shop):
    shop.event("view", "u", "x3", session="s1")
    shop.event("view", "u", "x0", session="s2")
    items, _, seeds = session_covisitation(shop.ctx(), 10)
    assert names(shop, seeds) == ["x0"]
    assert "x4" not in names(shop, items)
    assert "x4" in names(shop, covisitation(shop.ctx(), 10)[0])


def test_seed_covisitation_falls_back_to_same_category_popular(shop):
    items, scores, seeds = seed_covisitation(shop.ctx(item_id="x3"), 6)
    got = names(shop, items)
    neighbours = set(names(shop, shop.state.covisitation.row(shop.pos("x3"))[0]))
    k = len(neighbours)
    assert set(got[:k]) == neighbours
    extra = got[k:]
    assert extra and all(shop.state.catalog.categories[shop.pos(i)][0] == "red" for i in extra)
    assert "x3" not in extra
    assert scores[k:].max() <= 0.5 * scores[:k].min() + 1e-12  # below every co-visited neighbour
    assert names(shop, seeds) == ["x3"]
    assert seed_covisitation(shop.ctx(item_id="unknown"), 5)[0].size == 0
    assert seed_covisitation(shop.ctx(), 5)[0].size == 0


def test_seed_without_neighbours_gets_its_category(shop):
    items, scores, _ = seed_covisitation(shop.ctx(item_id="x10"), 3)  # blue, never co-visited
    assert names(shop, items) == ["x11", "x8", "x7"]  # most popular blue items but itself; x9 is out of stock
    np.testing.assert_allclose(scores / scores[0], [1.0, 90 / 120, 80 / 120], rtol=1e-3)


def test_category_affinity_source(shop):
    shop.event("purchase", "u", "x7")  # blue: 6
    shop.event("view", "u", "x1")  # red: 1
    items, scores, seeds = category_affinity(shop.ctx(), 3)
    got = names(shop, items)
    assert got[:4] == ["x11", "x10", "x8", "x5"] and seeds == []  # favourite category first
    np.testing.assert_allclose(scores[:4], [6 / 7, 6 / 7 * 110 / 120, 6 / 7 * 90 / 120, 1 / 7], rtol=1e-3)
    assert all(shop.state.catalog.categories[shop.pos(i)] == ("red",) for i in got[3:])
    assert scores[3:].max() <= 1 / 7 + 1e-12  # weighted by the user's affinity
    assert category_affinity(shop.ctx("stranger"), 3)[0].size == 0


def test_popular_and_trending_skip_unavailable_items(shop):
    assert names(shop, popular(shop.ctx(), 3)[0]) == ["x11", "x10", "x8"]
    assert "x9" not in names(shop, popular(shop.ctx(), 100)[0])
    assert "x9" not in names(shop, trending(shop.ctx(), 100)[0])
    assert names(shop, user_model(shop.ctx(), 1)[0]) == ["x11"]


def test_context_popular(world):
    world.items(*[Item(id=i) for i in ("a", "b", "c")])
    world.views("a", 5, context={"device": "desktop"})
    world.views("b", 3, context={"device": "mobile"})
    world.views("c", 2, context={"device": "mobile", "geo": "DE"})
    items, scores, _ = context_popular(world.ctx(context={"device": "mobile"}), 10)
    assert names(world, items) == ["b", "c"]
    np.testing.assert_allclose(scores, [1.0, 2 / 3], rtol=1e-4)
    both = context_popular(world.ctx(context={"device": "mobile", "geo": "DE"}), 10)
    assert sorted(names(world, both[0])) == ["b", "c", "c"]  # merged later: one list per segment
    assert context_popular(world.ctx(context={"device": "tv"}), 10)[0].size == 0
    assert context_popular(world.ctx(), 10)[0].size == 0


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_handles_an_empty_world(world, name):
    items, scores, seeds = SOURCES[name](world.ctx(item_id="x", context={"device": "tv"}), 10)
    assert len(items) == len(scores) == 0 and seeds == []


def test_popular_source_and_popularity_model_do_not_share_a_cached_list(shop):
    shop.toplists.ttl = 3600.0
    assert names(shop, user_model(shop.ctx(), 3)[0]) == ["x11", "x10", "x9"]  # the model ranks everything
    assert names(shop, popular(shop.ctx(), 3)[0]) == ["x11", "x10", "x8"]  # the source only what is available
