"""Consent enforced on ``GET /v1/recommendations`` (issue 15 item 3): without
``personalization`` a user gets exactly an unknown user's list, on the fast path and on the
routed endpoint alike; a change holds from the very next request; without ``analytics``
nothing is written to the impression log."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.api.recommendations import get_recommendations
from tastemaker.config import Settings
from tastemaker.engine import Engine

from ..conftest import ADMIN_KEY
from .helpers import item_id, seed

USER = "shopper"
PARAMS = {"n": "8", "explain": "true", "placement": "home"}


def history() -> list[dict[str, Any]]:
    """A user whose list is clearly theirs: views in c0, a purchase, a search."""
    events = [{"id": f"h{k}", "type": "view", "user_id": USER, "session_id": "s1", "item_id": item_id(k)}
              for k in (0, 4, 8, 12)]
    events.append({"id": "h-buy", "type": "purchase", "user_id": USER, "item_id": item_id(16)})
    return events


def listed(client: TestClient, user_id: str, **extra: str) -> dict[str, Any]:
    r = client.get("/v1/recommendations", params={**PARAMS, "user_id": user_id, **extra})
    assert r.status_code == 200, r.text
    body = r.json()
    body.pop("recommendation_id")  # fresh on every answer
    return body


def routed(engine: Engine) -> TestClient:
    """The routed endpoint alone (no fast path ahead of it); auth is not what is tested here."""
    app = Starlette(routes=[Route("/v1/recommendations", get_recommendations, methods=["GET"])])
    app.state.engine = engine
    return TestClient(app)


def set_consent(client: TestClient, consent: dict[str, bool]) -> None:
    r = client.put(f"/v1/users/{USER}", json={"traits": {"plan": "member"}, "consent": consent})
    assert r.status_code == 200, r.text


@pytest.fixture
def shop(client: TestClient) -> TestClient:
    seed(client)
    assert client.post("/v1/events", json=history()).status_code == 200
    return client


def test_without_personalization_the_list_is_an_unknown_users_on_both_paths(shop: TestClient):
    mine = listed(shop, USER)
    stranger = listed(shop, "never-seen")
    assert any(i["explanation"].get("because_of") for i in mine["items"])  # "because you ..."
    assert not any(i["explanation"].get("because_of") for i in stranger["items"])

    set_consent(shop, {"personalization": False})
    # the very next request, fast path and routed endpoint
    assert listed(shop, USER) == stranger
    direct = routed(shop.app.state.engine)
    r = direct.get("/v1/recommendations", params={**PARAMS, "user_id": USER})
    body = r.json()
    body.pop("recommendation_id")
    assert body == stranger

    set_consent(shop, {"personalization": True})
    assert listed(shop, USER) == mine  # personalised again on the next request


def test_purchased_items_are_not_excluded_without_personalization(shop: TestClient):
    # the purchase exclusion reads the user; without consent it must not apply, so the
    # purchased item can appear exactly where it appears for a stranger
    purchased = item_id(16)
    assert purchased not in {i["id"] for i in listed(shop, USER, n="40")["items"]}
    set_consent(shop, {"personalization": False})
    assert purchased in {i["id"] for i in listed(shop, USER, n="40")["items"]}
    assert listed(shop, USER, n="40") == listed(shop, "never-seen", n="40")


def test_other_purposes_leave_personalization_alone(shop: TestClient):
    mine = listed(shop, USER)
    set_consent(shop, {"analytics": False, "training": False, "marketing": False})
    assert listed(shop, USER) == mine


def test_consent_changes_are_audited(shop: TestClient):
    set_consent(shop, {"personalization": False})
    set_consent(shop, {"personalization": True})
    r = shop.get("/v1/audit", params={"action": "consent.change", "target": USER, "order": "asc"})
    summaries = [rec["summary"] for rec in r.json()["records"]]
    assert summaries == [{"old": {}, "new": {"personalization": False}},
                         {"old": {"personalization": False}, "new": {"personalization": True}}]


def test_a_write_by_another_process_holds_on_the_next_request(shop: TestClient, settings: Settings):
    stranger = listed(shop, "never-seen")
    other = Engine(settings)  # another worker on the same data dir
    try:
        from tastemaker.schema.records import User

        other.stores.users.upsert([User(id=USER, consent={"personalization": False})])
    finally:
        other.close(snapshot=False)
    assert listed(shop, USER) == stranger


def test_required_consent_personalises_only_after_a_grant(settings: Settings):
    app = build_app(Engine(replace(settings, consent_required=True)))
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        seed(client)
        assert client.post("/v1/events", json=history()).status_code == 200
        stranger = listed(client, "never-seen")
        assert listed(client, USER) == stranger  # no document: nothing granted
        set_consent(client, {"analytics": True})
        assert listed(client, USER) == stranger  # personalization still not granted
        set_consent(client, {"personalization": True})
        assert listed(client, USER) != stranger


def test_without_analytics_no_impression_is_logged(shop: TestClient):
    r = shop.put("/v1/placements/logged", json={"sources": {"covisitation": 1, "popular": 0.5}, "log_impressions": True})
    assert r.status_code in (200, 201), r.text
    engine = shop.app.state.engine
    listed(shop, USER, placement="logged")
    set_consent(shop, {"analytics": False})
    personal = listed(shop, USER, placement="logged")
    listed(shop, "someone-else", placement="logged")
    engine.recommender.impressions.flush()
    logged = [r.user_id for r in engine.stores.impressions.read("logged")]
    assert sorted(logged) == [USER, "someone-else"]  # the first request only, before the change
    set_consent(shop, {"analytics": True})
    assert listed(shop, USER, placement="logged") == personal  # analytics gates logging, not the list
