"""``/v1/features`` over HTTP: the registry, values per entity, the trending list, the
feature document (validation with positions, refold from the log, kept across a restart),
features in ``GET /v1/users/{id}``."""

from __future__ import annotations

import threading
import time

from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.engine import Engine
from tests.api.helpers import assert_problem
from tests.conftest import ADMIN_KEY

NOW = time.time()


def send(client, events: list[dict]) -> None:
    r = client.post("/v1/events", json=events)
    assert r.status_code == 200, r.text


def views(user: str, item: str, n: int, start: float, step: float = 1.0, **extra) -> list[dict]:
    return [{"id": f"{user}-{item}-{start}-{k}", "type": "view", "user_id": user, "item_id": item,
             "timestamp": start + k * step, **extra} for k in range(n)]


def test_list_and_values_of_users_items_categories(client):
    client.post("/v1/items", json=[{"id": "shoe", "categories": ["shoes"], "price": 80.0}])
    send(client, views("u1", "shoe", 3, NOW - 100, context={"dwell_ms": 2000}) +
         [{"id": "c1", "type": "click", "user_id": "u1", "item_id": "shoe", "timestamp": NOW - 50}])
    listed = client.get("/v1/features").json()
    names = [f["name"] for f in listed["features"]]
    assert len(names) >= 20 and "item_trend_1h" in names and listed["late_dropped"] == 0
    user = client.get("/v1/features/user/u1").json()
    assert user["entity"] == "user" and user["features"]["user_views_1h"] == 3
    assert abs(user["features"]["user_ctr_1d"] - 1 / 3) < 1e-6 and user["features"]["user_dwell_mean_1h"] == 2000.0
    assert client.get("/v1/features/item/shoe").json()["features"]["item_ctr_1d"] == round(1 / 3, 6)
    assert client.get("/v1/features/category/shoes").json()["features"]["category_views_1h"] == 3
    profile = client.get("/v1/users/u1").json()
    assert profile["activity"]["features"]["user_views_1h"] == 3


def test_a_burst_tops_the_trending_list(client):
    send(client, views("base", "steady", 24, NOW - 86_000, step=3500.0))
    send(client, [e for k in range(12) for e in views(f"b{k}", "hot", 1, NOW - 600 + k)])
    top = client.get("/v1/features/top/item_trend_1h?n=5").json()
    assert top["top"][0]["id"] == "hot" and top["entity"] == "item"


def test_errors_name_the_problem(client):
    send(client, views("u1", "shoe", 1, NOW))
    assert_problem(client.get("/v1/features/shop/u1"), 400, "entity")
    assert_problem(client.get("/v1/features/user/nobody"), 404, "id")
    assert_problem(client.get("/v1/features/user/u1?at=soon"), 400, "at")
    assert_problem(client.get("/v1/features/top/user_views_1h"), 404, "name")
    assert_problem(client.get("/v1/features/top/item_trend_1h?n=0"), 400, "n")


def test_feature_document_is_validated_whole_with_positions(client):
    bad = "features:\n  - name: mine\n    entity: shop\n    aggregation: count\n    window: 5m\n"
    r = client.put("/v1/features", content=bad, headers={"Content-Type": "application/yaml"})
    problem = assert_problem(r, 422, "/features/0/entity")
    assert "line 3" in str(problem)
    clash = {"features": [{"name": "user_views_1h", "entity": "user", "aggregation": "count", "window": 60}]}
    assert_problem(client.put("/v1/features", json=clash), 422, "/features/0/name")
    assert_problem(client.put("/v1/features", content=b"{", headers={"Content-Type": "application/json"}), 400)
    assert all(f["builtin"] for f in client.get("/v1/features").json()["features"])  # nothing written


def test_new_definition_is_refolded_from_the_log_and_survives_a_restart(settings):
    doc = {"features": [{"name": "user_scroll_sum_90s", "entity": "user", "aggregation": "sum", "window": "90s",
                         "types": ["view"], "value": "context.scroll", "buckets": 9}]}
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        send(client, views("u1", "shoe", 4, NOW - 30, context={"scroll": 5}))  # logged before the definition
        r = client.put("/v1/features", json=doc)
        assert r.status_code == 200, r.text
        assert client.get("/v1/features/user/u1").json()["features"]["user_scroll_sum_90s"] == 20.0
        audited = client.get("/v1/audit", params={"action": "features.update"}).json()["records"]
        assert [r["target"] for r in audited] == ["features"]
        send(client, views("u1", "shoe", 1, NOW, context={"scroll": 1}))
        assert client.get("/v1/features/user/u1").json()["features"]["user_scroll_sum_90s"] == 21.0
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        listed = {f["name"]: f for f in client.get("/v1/features").json()["features"]}
        assert listed["user_scroll_sum_90s"]["builtin"] is False and listed["user_scroll_sum_90s"]["window_s"] == 90.0
        assert client.get("/v1/features/user/u1").json()["features"]["user_scroll_sum_90s"] == 21.0


def test_changing_features_needs_the_admin_role(client):
    key = client.post("/v1/keys", json={"name": "shop", "scopes": ["read", "ingest"]}).json()["token"]
    headers = {"Authorization": f"Bearer {key}"}
    assert client.put("/v1/features", json={"features": []}, headers=headers).status_code == 403
    assert client.get("/v1/features", headers=headers).status_code == 200


def test_an_erased_users_features_go_and_their_item_counts_with_them(client):
    send(client, views("gone", "shoe", 3, NOW - 60) + views("stays", "shoe", 2, NOW - 30))
    assert client.get("/v1/features/item/shoe").json()["features"]["item_views_1h"] == 5
    r = client.delete("/v1/users/gone", params={"erase": "true"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    for thread in threading.enumerate():  # the job's own thread: wait on it, not on a clock
        if thread.name == f"erasure-{job_id}":
            thread.join()
    assert client.get(f"/v1/privacy/jobs/{job_id}").json()["status"] == "done"
    assert_problem(client.get("/v1/features/user/gone"), 404, "id")
    assert client.get("/v1/features/item/shoe").json()["features"]["item_views_1h"] == 2
