"""serving.recommender: the whole read path on a small shop."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import Item
from tastemaker.serving.placements import Placement, SourceSpec
from tastemaker.serving.recommender import UnknownPlacement

from tests.serving.conftest import World

BLUE = {f"x{i}" for i in range(6, 12)}


def test_response_shape(shop):
    body = shop.recommend(n=5)
    assert set(body) == {"recommendation_id", "placement", "items", "model_version"}
    assert re.fullmatch(r"[0-9a-f]{24}", body["recommendation_id"])
    assert body["placement"] == "home" and body["model_version"] == "popularity-1"
    assert len(body["items"]) == 5
    for entry in body["items"]:
        assert set(entry) == {"id", "score", "source"}
    scores = [e["score"] for e in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert shop.recommend(n=5)["recommendation_id"] != body["recommendation_id"]


def test_cold_start_user_gets_popular_and_trending(shop):
    body = shop.recommend("newcomer", n=5)
    assert [e["id"] for e in body["items"]] == ["x11", "x10", "x8", "x7", "x6"]  # x9 is out of stock
    assert {e["source"] for e in body["items"]} <= {"user_model", "trending", "popular"}


def test_context_narrows_cold_start():
    world = World()
    world.items(Item(id="everywhere"), Item(id="phones-love-it"), Item(id="other"))
    world.views("everywhere", 10)
    world.views("phones-love-it", 8, context={"device": "mobile"})
    world.views("other", 2, context={"device": "desktop"})
    assert world.ids("new", n=3)[0] == "everywhere"
    mobile = world.recommend("new", n=3, context={"device": "mobile"})
    assert mobile["items"][0]["id"] == "phones-love-it"
    assert world.ids("new", n=3, context={"device": "desktop"})[0] == "everywhere"


def test_the_next_request_sees_a_view(shop):
    assert shop.ids(n=3) == ["x11", "x10", "x8"]
    shop.event("view", "u", "x0")
    body = shop.recommend(n=3)
    assert [e["id"] for e in body["items"][:2]] == ["x1", "x2"]  # co-visited with x0
    assert [e["source"] for e in body["items"][:2]] == ["covisitation", "covisitation"]


def test_the_next_request_drops_a_purchase(shop):
    assert shop.ids(n=3)[0] == "x11"
    shop.event("purchase", "u", "x11")
    assert "x11" not in shop.ids(n=20)
    assert "x11" in shop.ids(n=20, include_purchased=True)
    shop.event("dislike", "u", "x10")
    assert "x10" not in shop.ids(n=20)


def test_filters(shop):
    assert set(shop.ids(n=5, category="blue")) == BLUE - {"x9"}
    assert set(shop.ids(n=20, brand="zen")) == {f"x{i}" for i in range(0, 12, 2)}
    assert not {"x11", "x10"} & set(shop.ids(n=5, exclude=frozenset({"x11", "x10"})))
    assert "x9" not in shop.ids(n=20)
    page = shop.ids(n=5, placement="product-page", item_id="x0")
    assert "x0" not in page and page[:2] == ["x1", "x2"]


def test_backfill_to_n():
    world = World()
    world.items(*[Item(id=f"x{i}", categories=["red" if i < 6 else "blue"], stock=0 if i == 9 else 10) for i in range(12)])
    for i in range(12):
        world.views(f"x{i}", 10 * (i + 1))
    for k in range(4):
        world.event("view", f"pair-{k}", "x3")
        world.event("view", f"pair-{k}", "x4")
    world.recommender.placements.placements["narrow"] = Placement("narrow", {"covisitation": SourceSpec(1.0)})
    world.event("view", "u", "x3")
    body = world.recommend(n=5, placement="narrow", exclude=frozenset({"x11"}))
    # one co-visited item, then popular items that pass the same filters (not x11, not x9)
    assert [e["id"] for e in body["items"]] == ["x4", "x10", "x8", "x7", "x6"]
    assert [e["source"] for e in body["items"]] == ["covisitation"] + ["popular"] * 4
    scores = [e["score"] for e in body["items"]]
    assert max(scores[1:]) <= 0.5 * scores[0] + 1e-6
    # within a category, the backfill comes from that category
    assert world.ids(n=4, placement="narrow", category="red") == ["x4", "x5", "x3", "x2"]
    world.event("purchase", "u", "x10")
    assert "x10" not in world.ids(n=5, placement="narrow")


def test_fewer_items_than_n_when_nothing_else_qualifies(shop):
    assert sorted(shop.ids(n=50, category="red")) == [f"x{i}" for i in range(6)]


def test_unknown_placement_is_a_404(shop):
    with pytest.raises(UnknownPlacement) as info:
        shop.recommend(placement="sidebar")
    assert isinstance(info.value, ValidationFailed)
    assert info.value.status == 404
    assert info.value.errors[0].field == "placement"
    assert "sidebar" in info.value.errors[0].reason and "home" in info.value.errors[0].reason


def test_deterministic(shop):
    shop.event("view", "u", "x0")
    shop.event("view", "u", "x3")
    first = shop.recommend(n=10)
    second = shop.recommend(n=10)
    assert first["items"] == second["items"]

    def build() -> World:
        w = World()
        w.items(*[Item(id=f"i{k}", categories=[f"c{k % 3}"]) for k in range(20)])
        rng = np.random.default_rng(7)
        for step in range(300):
            w.event("view", f"user{rng.integers(10)}", f"i{rng.integers(20)}", ts=1_700_000_000.0 + step)
        return w

    assert build().recommend("user3", n=10)["items"] == build().recommend("user3", n=10)["items"]


def test_explain(shop):
    shop.event("view", "u", "x0")
    items = shop.recommend(n=3, explain=True)["items"]
    assert items[0]["explanation"]["source"] == "covisitation"
    assert items[0]["explanation"]["because_of"] == ["x0"]
    assert items[0]["explanation"]["reason"].endswith("X0")


def test_no_catalog_means_events_decide():
    world = World()
    world.views("a", 3)
    world.views("b", 1)
    assert world.ids("new", n=5) == ["a", "b"]


def test_similar_items(shop):
    similar = shop.recommender.similar("x0", 4)
    ids = [s["id"] for s in similar]
    assert ids[:2] == ["x1", "x2"] and "x0" not in ids and len(ids) == 4
    assert all(s["id"] in {f"x{i}" for i in range(6)} for s in similar[:4])  # then the same category
    lonely = [s["id"] for s in shop.recommender.similar("x10", 3)]
    assert lonely == ["x11", "x8", "x7"]


def test_a_restored_snapshot_recommends_the_same(shop, tmp_path):
    shop.event("view", "u", "x0", session="s1")
    shop.event("purchase", "u", "x5")
    shop.event("view", "v", "x3", context={"device": "mobile"})
    path = tmp_path / "state.snapshot"
    shop.state.save(path)
    restored = World()
    restored.state = type(shop.state).load(path)
    restored.recommender.state = restored.state
    for user, kw in [("u", {}), ("v", {"context": {"device": "mobile"}}), ("new", {}), ("u", {"placement": "product-page", "item_id": "x3"}),
                     ("u", {"placement": "cart", "item_id": "x0"}), ("u", {"placement": "email", "n": 20})]:
        assert restored.recommend(user, **kw)["items"] == shop.recommend(user, **kw)["items"], (user, kw)
