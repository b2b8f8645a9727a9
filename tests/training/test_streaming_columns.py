"""training.streaming_columns: streaming features as ranker columns, as of each impression,
equal to what the server computes for the same columns at that log position and time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.features.registry import FeatureRegistry
from tastemaker.ranking.features import STREAM_PREFIX
from tastemaker.training.ranker_job import load_impressions, train_rankers
from tastemaker.training.streaming_columns import with_streaming_features

from ..conftest import ADMIN_KEY

NAMES = ["item_views_1h", "item_ctr_1d", "user_views_1h", "user_seconds_since_last"]


@pytest.fixture
def shop(settings: Settings):
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        items = [{"id": f"p{k}", "categories": [f"c{k % 3}"], "price": 10.0 + k} for k in range(12)]
        assert client.post("/v1/items", json=items).status_code == 200
        events = [{"id": f"e{u}-{k}", "type": "view" if k % 3 else "click", "user_id": f"u{u}",
                   "item_id": f"p{(u * 7 + k) % 12}"} for u in range(8) for k in range(6)]
        assert client.post("/v1/events", json=events).status_code == 200
        placement = {"sources": {"popular": 1.0}, "ranker": "blend", "n": 6, "log_impressions": True}
        assert client.put("/v1/placements/shop", json=placement).status_code == 201
        yield client


def test_columns_equal_the_servers_values_at_the_same_position_and_time(shop):
    engine = shop.app.state.engine
    for u in range(8):
        assert shop.get("/v1/recommendations", params={"user_id": f"u{u}", "placement": "shop"}).status_code == 200
    engine.recommender.impressions.flush()
    impressions, _ = load_impressions(engine.stores, "shop")
    assert len(impressions) == 8 and all(i.log_seq == engine.state.applied_seq for i in impressions)
    out = with_streaming_features(engine.stores, impressions, NAMES, FeatureRegistry().definitions)
    state = engine.state  # no event since the lists were served: the state is the one they were served from
    for before, after in zip(impressions, out):
        assert after.feature_names == before.feature_names + tuple(STREAM_PREFIX + n for n in NAMES)
        extra = after.features[:, len(before.feature_names):]
        positions = np.array([state.index.get(i) for i in before.items])
        online = state.features.candidate_columns(NAMES, positions, before.user_id, before.ts)
        assert np.array_equal(extra, online.astype(extra.dtype), equal_nan=True)
        assert not math.isnan(extra[0, 2])  # the user's views are known


def test_unknown_or_category_features_are_refused(shop):
    with pytest.raises(ValueError, match="category_views_1h"):
        with_streaming_features(shop.app.state.engine.stores, [], ["category_views_1h"], FeatureRegistry().definitions)


def test_train_rankers_takes_streaming_columns(shop):
    engine = shop.app.state.engine
    for u in range(8):
        shop.get("/v1/recommendations", params={"user_id": f"u{u}", "placement": "shop"})
    engine.recommender.impressions.flush()
    report = train_rankers(engine.stores, "shop", min_lists=100, streaming_features=["item_ctr_1d"])
    assert report["shop"]["winner"] == "blend"  # too few lists to train: the columns were built all the same
