"""``GET /v1/users/{id}/export``: everything held about one person, in one JSON bundle."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from tastemaker.api.export import FORMAT
from tastemaker.api.keys import create_key

from .helpers import item_id, seed

USER = "team/alice"  # an id with a slash travels encoded
PATH = "/v1/users/team%2Falice/export"


def events() -> list[dict[str, Any]]:
    return [
        {"id": "a1", "type": "view", "user_id": USER, "session_id": "s1", "item_id": item_id(0),
         "context": {"device": "mobile", "ip": "10.1.2.3"}, "timestamp": 1_700_000_000},
        {"id": "a2", "type": "search", "user_id": USER, "query": "private query", "timestamp": 1_700_000_001},
        {"id": "a3", "type": "purchase", "user_id": USER, "item_ids": [item_id(2), item_id(3)], "value": 19.5,
         "timestamp": 1_700_000_002},
        {"id": "other", "type": "view", "user_id": "bob", "item_id": item_id(1)},
    ]


@pytest.fixture
def shop(client: TestClient) -> TestClient:
    seed(client)
    assert client.post("/v1/events", json=events()).status_code == 200
    r = client.put("/v1/users/team%2Falice", json={"traits": {"plan": "member"},
                                                    "consent": {"personalization": True, "analytics": True}})
    assert r.status_code == 200
    return client


def test_the_bundle_holds_profile_events_state_audit_and_impressions(shop: TestClient):
    assert shop.put("/v1/placements/logged", json={"sources": {"popular": 1}, "log_impressions": True}).status_code in (200, 201)
    served = shop.get("/v1/recommendations", params={"user_id": USER, "placement": "logged", "n": "3"}).json()
    browser = shop.post("/v1/keys", json={"name": "web", "scopes": ["browser"], "user_id": USER}).json()
    assert shop.post("/v1/keys", json={"name": "bob-web", "scopes": ["browser"], "user_id": "bob"}).status_code == 201
    r = shop.get(PATH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store"
    bundle = r.json()
    assert bundle["format"] == FORMAT and bundle["user_id"] == USER
    assert bundle["profile"] == {"id": USER, "traits": {"plan": "member"},
                                 "consent": {"personalization": True, "analytics": True}}
    assert bundle["consent_in_effect"] == {"personalization": True, "training": True, "analytics": True, "default": "allowed"}
    assert [e["id"] for e in bundle["events"]] == ["a1", "a2", "a3"]  # nobody else's
    a1, a2, a3 = bundle["events"]
    assert a1["context"] == {"device": "mobile", "ip": "10.1.2.3"} and a1["session_id"] == "s1"
    assert a2["query"] == "private query" and a3["item_ids"] == [item_id(2), item_id(3)] and a3["value"] == 19.5
    assert set(a1) >= {"seq", "id", "type", "user_id", "item_id", "context", "query", "timestamp", "recommendation_id"}
    # the predictive fields come from a churn model a worker fits in the background: one of the
    # two reads may come before that fit lands, so they are compared apart from the rest
    predicted = ("churn_probability", "clv")

    def settled(activity: dict) -> dict:
        return {k: (sorted(set(v) - {"at_risk_predicted"}) if k == "segments" else v)
                for k, v in activity.items() if k not in predicted}

    assert settled(bundle["online_state"]) == settled(shop.get("/v1/users/team%2Falice").json()["activity"])
    assert [i["recommendation_id"] for i in bundle["impressions"]] == [served["recommendation_id"]]
    assert bundle["impressions"][0]["items"] == [i["id"] for i in served["items"]]
    assert [a["action"] for a in bundle["audit"]] == ["consent.change"]
    # their browser key, without its secret; bob's and the application keys are not theirs
    assert bundle["keys"] == [{k: v for k, v in browser.items() if k != "token"}]
    assert bundle["counts"] == {"events": 3, "impressions": 1, "audit": 1}
    # the export itself is audited: who took a copy of whose data
    log = shop.get("/v1/audit", params={"action": "users.export"}).json()["records"]
    assert [(rec["target"], rec["action"]) for rec in log] == [(USER, "users.export")]


def test_bulk_imported_events_are_exported_too(shop: TestClient):
    engine = shop.app.state.engine
    engine.stores.events.append_columns(iter([{
        "id": ["imp1", "imp2"], "type": ["view", "view"], "user_id": [USER, "bob"], "item_id": [item_id(5), item_id(6)],
        "ts": [1_600_000_000.0, 1_600_000_000.0], "query": ["imported query", None]}]))
    bundle = shop.get(PATH).json()
    assert [e["id"] for e in bundle["events"]] == ["a1", "a2", "a3", "imp1"]
    assert bundle["events"][-1]["query"] == "imported query"


def test_many_events_are_streamed_in_pages(shop: TestClient, monkeypatch):
    from tastemaker.api import export

    monkeypatch.setattr(export, "PAGE", 2)  # several pages, a short last one
    more = [{"id": f"m{k}", "type": "view", "user_id": USER, "item_id": item_id(k % 40)} for k in range(7)]
    assert shop.post("/v1/events", json=more).status_code == 200
    with shop.stream("GET", PATH) as r:
        chunks = list(r.iter_bytes())
    bundle = json.loads(b"".join(chunks))
    assert [e["id"] for e in bundle["events"]] == ["a1", "a2", "a3", *[m["id"] for m in more]]
    assert bundle["counts"]["events"] == 10


def test_unknown_user_is_404_and_a_user_known_only_from_events_is_exported(shop: TestClient):
    r = shop.get("/v1/users/nobody/export")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "id"
    bob = shop.get("/v1/users/bob/export").json()
    assert bob["profile"] is None and [e["id"] for e in bob["events"]] == ["other"]


def test_export_needs_the_admin_scope(shop: TestClient):
    engine = shop.app.state.engine
    _, reader = create_key(engine.stores.keys, "reader", frozenset({"read"}))
    r = shop.get(PATH, headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    assert shop.get(PATH, headers={"Authorization": "Bearer nope"}).status_code == 401
