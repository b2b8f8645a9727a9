"""FeatureStore: every aggregation on known events, trending, erasure, snapshots."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.erasure import contribution, forget_user, uncount
from tastemaker.features.registry import FeatureRegistry
from tastemaker.features.state import OnlineState, StateConfig
from tastemaker.schema.records import Item

T0 = 1_700_000_000.0


def state_with_catalog(config: StateConfig | None = None) -> OnlineState:
    state = OnlineState(config or StateConfig())
    state.catalog.upsert(Item(id="cheap", categories=["shoes"], price=10.0))
    state.catalog.upsert(Item(id="dear", categories=["shoes", "sale"], price=100.0))
    return state


def feed(state: OnlineState, events: list[tuple]) -> None:
    for i, (type_, user, item, ts, *rest) in enumerate(events, state.applied_seq + 1):
        value = rest[0] if rest else None
        context = rest[1] if len(rest) > 1 else None
        state.apply(i, type_, user, None, [item] if item else [], value, ts, context)


def test_user_aggregations_on_known_events():
    state = state_with_catalog()
    feed(state, [
        ("view", "u", "dear", T0, None, {"dwell_ms": 3000}),
        ("view", "u", "cheap", T0 + 10, None, {"dwell_ms": 1000}),
        ("view", "u", "cheap", T0 + 20),  # no dwell: not in the mean
        ("click", "u", "cheap", T0 + 30),
        ("add_to_cart", "u", "cheap", T0 + 40),
        ("purchase", "u", "cheap", T0 + 50, 12.5),
        ("view", "other", "dear", T0 + 60),
    ])
    f = state.features.features_for("user", "u", T0 + 59)
    assert f["user_views_1h"] == 3 and f["user_views_1d"] == 3
    assert f["user_clicks_1d"] == 1 and f["user_carts_1d"] == 1 and f["user_purchases_1d"] == 1
    assert f["user_revenue_1d"] == 12.5
    assert f["user_events_5m"] == 6
    assert f["user_event_rate_1h"] == pytest.approx(6 / 60.0)
    assert f["user_ctr_1d"] == pytest.approx(1 / 3) and f["user_cart_rate_1d"] == pytest.approx(1 / 3)
    assert f["user_dwell_mean_1h"] == 2000.0
    assert f["user_price_sensitivity_1d"] == pytest.approx(10.0 / 40.0)  # bought at 10, viewed at (100+10+10)/3
    assert f["user_seconds_since_last"] == 9.0
    later = state.features.features_for("user", "u", T0 + 3 * 86_400)
    assert later["user_views_1d"] == 0 and later["user_ctr_1d"] is None and later["user_dwell_mean_1h"] is None
    assert state.features.features_for("user", "nobody") is None


def test_item_and_category_features():
    state = state_with_catalog()
    feed(state, [("view", f"u{i}", "dear", T0 + i) for i in range(4)] + [("click", "u0", "dear", T0 + 5)])
    item = state.features.features_for("item", "dear", T0 + 10)
    assert item["item_views_1h"] == 4 and item["item_ctr_1d"] == pytest.approx(0.25)
    assert state.features.features_for("category", "sale", T0 + 10)["category_views_1h"] == 4
    assert state.features.features_for("category", "shoes", T0 + 10)["category_views_1h"] == 4


def test_trend_needs_its_floor_and_ranks_a_burst_first():
    state = state_with_catalog()
    steady = [("view", "u", "cheap", T0 + 600 * k) for k in range(140)]  # one view per 10 min for a day
    burst = [("view", f"b{k}", "dear", T0 + 86_000 + k) for k in range(30)]  # 30 views in the last hour
    feed(state, sorted(steady + burst, key=lambda e: e[3]))
    now = T0 + 86_100
    top = state.features.top("item_trend_1h", 5, now)
    assert top[0][0] == "dear" and top[0][1] > 3.0
    one = state_with_catalog()
    feed(one, [("view", "u", "dear", T0 + k) for k in range(4)])  # 4 events: under the floor of 5
    assert one.features.features_for("item", "dear", T0 + 10)["item_trend_1h"] == 0.0


def test_custom_definition_on_a_context_field_and_custom_window():
    custom = FeatureDefinition("user_scroll_sum_90s", "user", "sum", 90.0, frozenset({"view"}),
                               value="context.scroll", buckets=9)
    registry = FeatureRegistry([custom])
    state = state_with_catalog(StateConfig(features=registry.definitions))
    feed(state, [("view", "u", "cheap", T0, None, {"scroll": 3}), ("view", "u", "cheap", T0 + 50, None, {"scroll": 4}),
                 ("view", "u", "cheap", T0 + 95, None, {"scroll": True})])  # a boolean is not a number
    assert state.features.features_for("user", "u", T0 + 95)["user_scroll_sum_90s"] == 4.0  # T0's bucket left


def test_erasure_drops_the_user_and_uncounts_their_item_windows():
    state = state_with_catalog()
    events = [("view", "gone", "dear", T0), ("view", "stays", "dear", T0 + 1), ("click", "gone", "dear", T0 + 2)]
    feed(state, events)
    rows = [(i, t, u, None, it, None, None, ts, None) for i, (t, u, it, ts) in enumerate(events, 1) if u == "gone"]
    scratch = contribution(state, rows)
    uncount(state, scratch)
    forget_user(state, "gone")
    assert state.features.features_for("user", "gone") is None
    item = state.features.features_for("item", "dear", T0 + 5)
    assert item["item_views_1h"] == 1 and item["item_ctr_1d"] == 0.0
    assert state.features.features_for("category", "sale", T0 + 5)["category_views_1h"] == 1


def test_snapshot_round_trip_keeps_features_and_pending_events():
    state = state_with_catalog()
    feed(state, [("view", "u", "dear", T0 + k) for k in range(10)])  # pending, not yet folded
    restored = pickle.loads(pickle.dumps(state))
    assert restored.features.features_for("user", "u", T0 + 20) == state.features.features_for("user", "u", T0 + 20)
    feed(restored, [("view", "u", "dear", T0 + 30)])
    assert restored.features.features_for("user", "u", T0 + 30)["user_views_1h"] == 11
    assert restored.features.features_for("category", "sale", T0 + 30)["category_views_1h"] == 11


def test_late_events_are_counted_when_dropped():
    state = state_with_catalog()
    # exactly 2 days late: the same slot as the newer event in every ring, which keeps the newer bucket
    feed(state, [("view", "u", "dear", T0 + 172_800), ("view", "u", "dear", T0)])
    assert state.features.late_dropped >= 1
    assert state.features.features_for("user", "u")["user_views_1d"] == 1
    assert math.isclose(state.features.clock, T0 + 172_800)


def test_candidate_columns_give_item_features_per_candidate_and_the_users_down_the_column():
    state = state_with_catalog()
    feed(state, [("view", "u", "dear", T0), ("view", "u", "dear", T0 + 1), ("click", "u", "dear", T0 + 2)])
    items = [state.index.get("dear"), state.index.get("cheap")]
    X = state.features.candidate_columns(["item_views_1h", "user_views_1h", "category_views_1h", "nope"],
                                         items, "u", T0 + 5)
    assert X[:, 0].tolist() == [2.0, 0.0] and X[:, 1].tolist() == [2.0, 2.0]
    assert math.isnan(X[0, 2]) and math.isnan(X[0, 3])  # category and unknown names: NaN
    unknown_user = state.features.candidate_columns(["user_views_1h"], items, "nobody", T0 + 5)
    assert np.isnan(unknown_user).all()


def test_top_categories_by_a_category_feature():
    state = state_with_catalog()
    feed(state, [("view", "u", "dear", T0), ("view", "u", "cheap", T0 + 1), ("view", "v", "cheap", T0 + 2)])
    assert state.features.top("category_views_1h", 5, T0 + 5) == [("shoes", 3.0), ("sale", 1.0)]
