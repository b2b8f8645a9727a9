"""The impression log contract: every backend (see conftest.BACKENDS) must pass this suite unchanged.

It speaks only through ``tastemaker.storage.protocols.ImpressionLog``.
"""

from __future__ import annotations

from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import ImpressionRecord

from .helpers import T0


def imp(rec: str, ts: float, placement: str = "home", items=("a", "b"), names=("blend", "margin"), **kw):
    import numpy as np

    feats = np.arange(len(items) * len(names), dtype=np.float64).reshape(len(items), len(names)) / 4 if names else None
    return ImpressionRecord(rec, placement, kw.pop("user_id", "u1"), ts, list(items), feats, tuple(names), kw.pop("log_seq", 7))


class TestImpressionLog:
    def test_round_trip_in_time_order(self, stores: Stores, other_stores: Stores):
        assert stores.impressions.count() == 0 and stores.impressions.read() == []
        assert stores.impressions.append([imp("r2", T0 + 2), imp("r1", T0 + 1, placement="cart", items=["c"]),
                                          imp("r3", T0 + 3, names=())]) == 3
        got = other_stores.impressions.read()
        assert [r.recommendation_id for r in got] == ["r1", "r2", "r3"]
        first = got[1]
        assert (first.placement, first.user_id, first.ts, first.items, first.log_seq) == ("home", "u1", T0 + 2, ["a", "b"], 7)
        assert first.feature_names == ("blend", "margin") and first.features.tolist() == [[0.0, 0.25], [0.5, 0.75]]
        assert got[2].features is None and got[2].feature_names == ()
        assert [r.recommendation_id for r in stores.impressions.read("home")] == ["r2", "r3"]
        assert [r.recommendation_id for r in stores.impressions.read(since_ts=T0 + 2, until_ts=T0 + 3)] == ["r2"]
        assert stores.impressions.count() == 3 and stores.impressions.count("cart") == 1

    def test_read_user_pages_by_time_and_id(self, stores: Stores):
        stores.impressions.append([imp("r2", T0, user_id="me"), imp("r1", T0, user_id="me"), imp("r3", T0 + 1),
                                   imp("r4", T0 + 2, user_id="me")])
        assert [r.recommendation_id for r in stores.impressions.read_user("me")] == ["r1", "r2", "r4"]
        first = stores.impressions.read_user("me", limit=1)
        assert [r.recommendation_id for r in first] == ["r1"]
        rest = stores.impressions.read_user("me", after=(first[0].ts, first[0].recommendation_id))
        assert [r.recommendation_id for r in rest] == ["r2", "r4"]  # the same ts is not skipped
        assert stores.impressions.read_user("nobody") == []

    def test_a_repeated_id_is_ignored(self, stores: Stores):
        assert stores.impressions.append([imp("r1", T0)]) == 1
        assert stores.impressions.append([imp("r1", T0 + 5, placement="cart"), imp("r2", T0)]) == 1
        assert [(r.recommendation_id, r.placement) for r in stores.impressions.read()] == [("r1", "home"), ("r2", "home")]
        assert stores.impressions.append([]) == 0

    def test_retention(self, stores: Stores):
        stores.impressions.append([imp(f"r{i}", T0 + i) for i in range(5)])
        assert stores.impressions.delete_before(T0 + 3) == 3
        assert [r.recommendation_id for r in stores.impressions.read()] == ["r3", "r4"]


def exposed(rec: str, ts: float, *experiments: tuple[str, str, float], user_id: str = "u1"):
    return ImpressionRecord(rec, "home", user_id, ts, ["a"], experiments=[
        {"id": e, "variant": v, "propensity": p} for e, v, p in experiments])


class TestImpressionExperiments:
    def test_experiments_round_trip_and_read_by_experiment(self, stores: Stores, other_stores: Stores):
        stores.impressions.append([exposed("r3", T0 + 3, ("e1", "b", 0.5)), imp("r0", T0),
                                   exposed("r1", T0 + 1, ("e1", "a", 0.5), ("e2", "x", 0.1)), exposed("r2", T0 + 2, ("e2", "y", 0.9))])
        got = {r.recommendation_id: r for r in other_stores.impressions.read()}
        assert got["r0"].experiments == []
        assert got["r1"].experiments == [{"id": "e1", "variant": "a", "propensity": 0.5},
                                         {"id": "e2", "variant": "x", "propensity": 0.1}]
        e1 = other_stores.impressions.read_experiment("e1")
        assert [(r.recommendation_id, r.user_id, r.items) for r in e1] == [("r1", "u1", ["a"]), ("r3", "u1", ["a"])]
        assert [r.recommendation_id for r in stores.impressions.read_experiment("e2", since_ts=T0 + 2)] == ["r2"]
        assert [r.recommendation_id for r in stores.impressions.read_experiment("e2", until_ts=T0 + 2)] == ["r1"]
        assert stores.impressions.read_experiment("nope") == []

    def test_a_repeated_id_keeps_the_first_exposures(self, stores: Stores):
        assert stores.impressions.append([exposed("r1", T0, ("e1", "a", 0.5))]) == 1
        assert stores.impressions.append([exposed("r1", T0, ("e2", "b", 0.5)), exposed("r2", T0, ("e2", "b", 0.5))]) == 1
        assert [r.recommendation_id for r in stores.impressions.read_experiment("e2")] == ["r2"]
        assert stores.impressions.read()[0].experiments[0]["id"] == "e1"

    def test_erasure_and_retention_take_the_exposures_along(self, stores: Stores):
        stores.impressions.append([exposed("r1", T0, ("e1", "a", 0.5), user_id="gone"), exposed("r2", T0 + 5, ("e1", "b", 0.5)),
                                   exposed("r3", T0 + 1, ("e1", "a", 0.5))])
        assert stores.impressions.erase_user("gone") == 1
        assert [r.recommendation_id for r in stores.impressions.read_experiment("e1")] == ["r3", "r2"]
        assert stores.impressions.delete_before(T0 + 2) == 1
        assert [r.recommendation_id for r in stores.impressions.read_experiment("e1")] == ["r2"]
