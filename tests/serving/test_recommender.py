"""serving.recommender: the whole read path on a small shop."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import Item
from tastemaker.serving.placements import Placement, SourceSpec
from tastemaker.serving.recommender import UnknownPlacement
from tastemaker.storage.local.artifacts import LocalArtifactStore
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
    assert items[0]["explanation"]["reason"].endswith("“X0”")


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
    artifacts = LocalArtifactStore(tmp_path)
    shop.state.save(artifacts, "state.snapshot")
    restored = World()
    restored.state = type(shop.state).load(artifacts, "state.snapshot")
    restored.recommender.state = restored.state
    for user, kw in [("u", {}), ("v", {"context": {"device": "mobile"}}), ("new", {}), ("u", {"placement": "product-page", "item_id": "x3"}),
                     ("u", {"placement": "cart", "item_id": "x0"}), ("u", {"placement": "email", "n": 20})]:
        assert restored.recommend(user, **kw)["items"] == shop.recommend(user, **kw)["items"], (user, kw)


# -- configured placements: the ranking stages (issue 4) ----------------------------------------

from tastemaker.ranking.features import FEATURE_NAMES  # noqa: E402
from tastemaker.serving.placements import DEFAULT_PLACEMENTS  # noqa: E402
from tastemaker.serving.recommender import Recommender  # noqa: E402

ACME = {f"x{i}" for i in range(1, 12, 2)}
POPULAR = {"popular": 1.0}


def configure(world: World, name: str = "home", **doc) -> None:
    world.recommender.placements.put(name, {"sources": POPULAR, **doc})


def test_builtin_placements_skip_every_ranking_stage(shop, monkeypatch):
    assert not any(p.staged for p in DEFAULT_PLACEMENTS.values())

    def boom(*args, **kwargs):
        raise AssertionError("a built-in placement ran the ranking stages")

    monkeypatch.setattr(Recommender, "_ranked", boom)
    for name in DEFAULT_PLACEMENTS:
        shop.recommend(placement=name, n=5, item_id="x0", explain=True)
    configure(shop, rules=[{"boost": 'brand == "zen"', "factor": 2}])
    with pytest.raises(AssertionError, match="ranking stages"):
        shop.recommend(n=5)


def test_boosts_and_pins_move_items(shop):
    assert shop.ids("newcomer", n=4) == ["x11", "x10", "x8", "x7"]
    configure(shop, rules=[{"boost": 'brand == "zen"', "factor": 10}, {"pin": "x1", "position": 1}])
    ids = shop.ids("newcomer", n=4)
    assert ids == ["x1", "x10", "x8", "x6"]


def test_explain_lists_the_rules_that_moved_each_item(shop):
    configure(shop, rules=[{"boost": 'brand == "zen"', "factor": 10, "name": "zen-week"}, {"pin": "x1", "position": 1}])
    items = shop.recommend("newcomer", n=4, explain=True)["items"]
    assert items[0]["explanation"]["rules"] == [{"rule": "pin:x1@1", "effect": "pinned at position 1"}]
    assert items[1]["explanation"]["rules"] == [{"rule": "zen-week", "effect": "boosted: score x10"}]
    assert items[1]["explanation"]["source"] == "popular"
    assert "rules" not in shop.recommend("newcomer", n=4)["items"][1]  # no trace without explain


def test_a_pinned_item_a_filter_excludes_is_not_shown(shop):
    configure(shop, rules=[{"filter": "category", "include": ["blue"]}, {"pin": "x3", "position": 1}])
    body = shop.recommend("newcomer", n=4, explain=True)
    assert "x3" not in [e["id"] for e in body["items"]] and {e["id"] for e in body["items"]} <= BLUE
    assert body["rules_dropped"] == [{"id": "x3", "rule": "pin:x3@1", "effect": "pin dropped: excluded by category"}]


def test_a_pin_does_not_bring_back_what_the_request_or_history_excludes(shop):
    configure(shop, rules=[{"pin": "x9", "position": 1}, {"pin": "x4", "position": 2}, {"pin": "x2", "position": 3}])
    shop.event("purchase", "u", "x4")
    body = shop.recommend("u", n=5, explain=True, exclude=frozenset({"x2"}))
    ids = [e["id"] for e in body["items"]]
    assert not {"x9", "x4", "x2"} & set(ids)  # out of stock, purchased, excluded by the request
    assert sorted(d["id"] for d in body["rules_dropped"]) == ["x2", "x4", "x9"]


def test_caps_spread_brands(shop):
    configure(shop, rules=[{"cap": "brand", "max": 1}])
    ids = shop.ids("newcomer", n=4)
    assert ("acme" if ids[0] in ACME else "zen") != ("acme" if ids[1] in ACME else "zen")


def test_mmr_diversity_mixes_categories(shop):
    assert set(shop.ids("newcomer", n=3)) <= BLUE
    configure(shop, diversity={"lambda": 0.9})
    ids = shop.ids("newcomer", n=3)
    assert ids[0] == "x11" and ids[1] not in BLUE
    explained = shop.recommend("newcomer", n=3, explain=True)["items"]
    assert any(r["rule"] == "diversity" for e in explained for r in e["explanation"].get("rules", []))


@pytest.mark.parametrize("method", ["mmr-sum", "swap"])
def test_diversity_methods_mix_categories(shop, method):
    configure(shop, diversity={"lambda": 0.9, "method": method})
    ids = shop.ids("newcomer", n=3)
    assert ids[0] == "x11" and not set(ids) <= BLUE
    explained = shop.recommend("newcomer", n=3, explain=True)["items"]
    assert any(r["rule"] == "diversity" for e in explained for r in e["explanation"].get("rules", []))


def test_calibration_follows_the_users_categories(shop):
    shop.event("view", "fan", "x3")  # all this user's affinity is red
    configure(shop, exclude_seen=True, diversity={"calibration": 0.95})
    ids = shop.ids("fan", n=3)
    assert ids[0] not in BLUE


def test_popularity_discount_and_minimum_exposure(shop):
    for k in range(3):  # x0's neighbours x1 and x2 now tie on co-visitation...
        shop.event("view", f"more-{k}", "x0")
        shop.event("view", f"more-{k}", "x2")
    shop.views("x1", 40)  # ...and x1 is the more popular
    shop.event("view", "u", "x0")
    configure(shop, sources={"covisitation": 1.0})
    assert shop.ids("u", n=2) == ["x1", "x2"]
    configure(shop, sources={"covisitation": 1.0}, fairness={"popularity_penalty": 1.0})
    assert shop.ids("u", n=2) == ["x2", "x1"]
    configure(shop, rules=[{"boost": 'brand == "zen"', "factor": 100}], fairness={"min_exposure": {"brand": {"acme": 0.5}}})
    ids = shop.ids("newcomer", n=4)
    assert len(set(ids) & ACME) == 2


def test_overrides_where_the_placement_allows_them(shop):
    configure(shop, overrides=["n", "diversity"])
    assert len(shop.ids("newcomer", n=5, overrides={"n": "3"})) == 5  # an explicit n wins
    assert len(shop.ids("newcomer", overrides={"n": "3"}, default_n=True)) == 3
    assert shop.ids("newcomer", n=3, overrides={"diversity": "0.9"})[1] not in BLUE
    for bad, field in [({"margin": "0.3"}, "override.margin"), ({"diversity": "2"}, "override.diversity")]:
        with pytest.raises(ValidationFailed) as info:
            shop.recommend("newcomer", overrides=bad)
        assert info.value.status == 400 and info.value.errors[0].field == field


def test_the_placements_n_applies_when_the_request_sets_none(shop):
    configure(shop, n=3)
    assert len(shop.ids("newcomer", default_n=True)) == 3
    assert len(shop.ids("newcomer", n=5)) == 5


class MarginRanker:
    """A stand-in learned ranker: higher margin first."""

    feature_names = FEATURE_NAMES

    def __init__(self) -> None:
        self.rows = 0

    def score(self, X):
        self.rows += len(X)
        return X[:, FEATURE_NAMES.index("margin")] * 10 - 3  # negative scores too: the stages cope


class Rankers:
    def __init__(self, **rankers):
        self.rankers = rankers

    def get(self, name):
        return self.rankers.get(name)


class Impressions:
    def __init__(self) -> None:
        self.records = []

    def log(self, record) -> None:
        self.records.append(record)


@pytest.fixture
def margins() -> World:
    """Ten items: popularity grows with the number, margin falls with it."""
    world = World()
    world.items(*[Item(id=f"m{i}", margin=(10 - i) / 10, brand="b", categories=["c"]) for i in range(10)])
    for i in range(10):
        world.views(f"m{i}", i + 1)
    return world


def test_the_learned_ranker_orders_the_candidates(margins):
    configure(margins, ranker="ltr")
    assert margins.ids("newcomer", n=3) == ["m9", "m8", "m7"]  # no ranker trained yet: the blend
    ranker = MarginRanker()
    margins.recommender.rankers = Rankers(home=ranker)
    assert margins.ids("newcomer", n=3) == ["m0", "m1", "m2"]
    assert ranker.rows == 10
    configure(margins, ranker="ltr", rules=[{"boost": 'margin < 0.15', "factor": 200}])  # rules act on its order
    assert margins.ids("newcomer", n=3) == ["m9", "m0", "m1"]
    configure(margins, ranker="ltr", overrides=["ranker"])
    assert margins.ids("newcomer", n=3, overrides={"ranker": "blend"}) == ["m9", "m8", "m7"]


def test_impressions_are_logged_with_the_features_as_served(margins):
    log = Impressions()
    margins.recommender.impressions = log
    margins.recommend("newcomer", n=3)  # a built-in placement logs nothing
    assert log.records == []
    configure(margins, ranker="ltr", rules=[{"pin": "m4", "position": 2}])
    body = margins.recommend("newcomer", n=3)
    [record] = log.records
    assert record.recommendation_id == body["recommendation_id"] and record.placement == "home"
    assert record.user_id == "newcomer" and record.items == [e["id"] for e in body["items"]] == ["m9", "m4", "m8"]
    assert record.feature_names == FEATURE_NAMES and record.features.shape == (3, len(FEATURE_NAMES))
    margin = record.features[:, FEATURE_NAMES.index("margin")]
    assert margin.tolist() == pytest.approx([0.1, 0.6, 0.2])
    assert record.log_seq == margins.state.applied_seq
    configure(margins, log_impressions=True)
    margins.recommend("newcomer", n=2)
    assert len(log.records) == 2 and log.records[1].features.shape == (2, len(FEATURE_NAMES))


def test_rules_see_catalog_updates_between_requests(shop):
    """The rule columns are cached per catalog (patched on upsert): an update shows in the
    next request's rules, caps and pins."""
    configure(shop, rules=[{"where": "not (price > 50)"}, {"cap": "brand", "max": 1}])
    assert shop.ids("newcomer", n=2) == ["x11", "x10"]
    shop.items(Item(id="x11", categories=["blue"], brand="acme", stock=10, price=80.0))
    assert shop.ids("newcomer", n=2) == ["x10", "x7"]  # x11 now too expensive
    shop.items(Item(id="x11", categories=["blue"], brand="zen", stock=10, price=20.0))
    assert shop.ids("newcomer", n=2) == ["x11", "x7"]  # back, and now a zen item: x10 (zen) capped
