"""/v1/experiments over HTTP: create, read, change (audited), what refuses a request, the
experiments in recommendation responses, and model canaries started by promote and rolled
back by the server when a guardrail breaks."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.datasets import generate
from tastemaker.engine import Engine
from tastemaker.experiments.statistics.power import sample_size_proportions
from tastemaker.ingest.dataset_loader import load_dataset
from tastemaker.storage.factory import open_stores
from tastemaker.training.job import train

from ..conftest import ADMIN_KEY
from .helpers import assert_problem

BODY = {"id": "home-test", "placements": ["home"], "design": {"baseline": 0.05, "mde": 0.1},
        "variants": [{"name": "control", "share": 0.5}, {"name": "more-trending", "share": 0.5,
                                                        "override": {"blend": {"trending": 3.0}}}]}
HANG_GUARD_S = 120.0  # only a rollback that never happens reaches it


def test_create_read_list_and_audit(client):
    r = client.post("/v1/experiments", json=BODY)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/v1/experiments/home-test"
    body = r.json()
    assert (body["status"], body["version"], body["salt"]) == ("draft", 1, "default:home-test")
    n = sample_size_proportions(0.05, relative_lift=0.1)
    assert body["sample_size"]["users_per_variant"] == {"control": n, "more-trending": n}
    assert body["sample_size"]["total_users"] == 2 * n
    assert client.get("/v1/experiments/home-test").json() == body
    assert [e["id"] for e in client.get("/v1/experiments").json()["experiments"]] == ["home-test"]
    assert client.get("/v1/experiments", params={"status": "running"}).json() == {"experiments": []}
    (record,) = client.get("/v1/audit", params={"action": "experiments."}).json()["records"]
    assert (record["action"], record["target"], record["summary"]["status"]) == ("experiments.create", "home-test", "draft")


def test_refusals_name_the_problem_and_store_nothing(client):
    assert_problem(client.post("/v1/experiments", json={**BODY, "variants": [{"name": "a", "share": 1.5}]}), 422, "/variants")
    assert_problem(client.post("/v1/experiments", json={**BODY, "placements": ["basket"]}), 422, "/placements/0")
    assert_problem(client.post("/v1/experiments", json={**BODY, "variants": [BODY["variants"][0], {
        "name": "b", "share": 0.5, "override": {"rules": [{"boost": "price >> 2"}]}}]}), 422, "/variants/1/override/rules/0/boost")
    assert_problem(client.post("/v1/experiments", content=b'{"id": 1,}'), 400)
    assert_problem(client.get("/v1/experiments", params={"status": "paused"}), 400, "status")
    assert_problem(client.get("/v1/experiments/Bad!"), 400, "id")
    assert_problem(client.get("/v1/experiments/nope"), 404, "id")
    assert_problem(client.patch("/v1/experiments/nope", json={"status": "running"}), 404, "id")
    assert client.get("/v1/experiments").json() == {"experiments": []}
    assert client.post("/v1/experiments", json=BODY).status_code == 201
    assert_problem(client.post("/v1/experiments", json=BODY), 409)
    assert client.get("/v1/audit", params={"action": "experiments."}).json()["records"][0]["action"] == "experiments.create"


def test_patch_starts_reshares_and_stops_and_recommendations_say_which_variant(client):
    client.post("/v1/items", json=[{"id": f"i{k}", "categories": ["c"]} for k in range(30)])
    client.post("/v1/events", json=[{"id": f"e{k}", "type": "view", "user_id": f"u{k % 7}", "item_id": f"i{k % 30}"}
                                    for k in range(120)])
    created = client.post("/v1/experiments", json={**BODY, "started_at": 5.0}).json()
    assert created["started_at"] is None and created["stopped_at"] is None  # recorded by the server, not taken
    assert "experiments" not in client.get("/v1/recommendations", params={"user_id": "u1"}).json()
    before = time.time()
    r = client.patch("/v1/experiments/home-test", json={"status": "running"})
    assert r.status_code == 200 and (r.json()["status"], r.json()["version"]) == ("running", 2)
    started_at = r.json()["started_at"]
    assert before <= started_at <= time.time()
    variants = {}
    for user in (f"u{k}" for k in range(40)):  # the fast path answers these
        body = client.get("/v1/recommendations", params={"user_id": user, "explain": "true"}).json()
        (e,) = body["experiments"]
        variants[user] = e["variant"]
        assert e["id"] == "home-test" and e["propensity"] == 0.5
        assert (body["blend"]["trending"]["weight"] == 3.0) == (e["variant"] == "more-trending")
    assert set(variants.values()) == {"control", "more-trending"}
    r = client.patch("/v1/experiments/home-test", json={"shares": {"more-trending": 0.25}})
    assert r.json()["variants"][1]["share"] == 0.25
    assert_problem(client.patch("/v1/experiments/home-test", json={"status": "draft"}), 409)
    assert_problem(client.patch("/v1/experiments/home-test", json={"shares": {"x": 0.1}}), 422, "/shares/x")
    assert_problem(client.patch("/v1/experiments/home-test", json={"salt": "new"}), 422, "/salt")
    assert client.patch("/v1/experiments/home-test", json={"shares": {"more-trending": 0.3}}).json()["started_at"] == started_at
    r = client.patch("/v1/experiments/home-test", json={"status": "stopped", "status_reason": "done"})
    assert (r.json()["status"], r.json()["status_reason"]) == ("stopped", "done")
    stopped_at = r.json()["stopped_at"]
    assert started_at <= stopped_at <= time.time() and r.json()["started_at"] == started_at
    # the results cover the time it ran: from the start recorded to the stop recorded, not to now
    results = client.get("/v1/experiments/home-test/results").json()
    assert (results["start"], results["end"]) == (started_at, stopped_at)
    assert "experiments" not in client.get("/v1/recommendations", params={"user_id": "u1"}).json()
    actions = [x["action"] for x in client.get("/v1/audit", params={"action": "experiments.", "order": "asc"}).json()["records"]]
    assert actions == ["experiments.create"] + ["experiments.update"] * 4


@pytest.fixture
def two_versions(settings):
    """v1 popularity serving, v2 itemknn candidate, 150 users."""
    with open_stores(settings) as stores:
        load_dataset(stores, generate(150, 100, 3_000, seed=3))
        train(stores, "popularity", evaluate=False, promote="always")
        train(stores, "itemknn", evaluate=False, promote="never")
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        yield c


def test_a_canary_breaking_its_latency_budget_is_rolled_back_by_the_server(two_versions):
    c = two_versions
    assert_problem(c.post("/v1/models/2/promote", params={"canary": "1.5"}), 400, "canary")
    assert_problem(c.post("/v1/models/2/promote", params={"latency_budget_ms": "5"}), 400, "canary")
    assert_problem(c.post("/v1/models/2/promote", params={"canary": "0.5", "bogus": "1"}), 400, "bogus")
    r = c.post("/v1/models/2/promote", params={"canary": "0.5", "latency_budget_ms": "0.001"})
    assert r.status_code == 201, r.text
    canary = r.json()
    assert canary["kind"] == "canary" and canary["status"] == "running" and r.headers["location"].endswith(canary["id"])
    assert_problem(c.post("/v1/models/2/promote", params={"canary": "0.1"}), 409)  # one canary at a time
    assert c.get("/v1/models").json()["serving"] == 1
    served: set[str] = set()
    deadline = time.monotonic() + HANG_GUARD_S
    while True:  # serve until the server's guardrail check (every second) stops it
        for k in range(50):
            body = c.get("/v1/recommendations", params={"user_id": f"u{k}"}).json()
            served.add(body["model_version"])
        state = c.get(f"/v1/experiments/{canary['id']}").json()
        if state["status"] == "stopped":
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.2)  # pacing only: the loop ends on the status, not on time
    assert served >= {"popularity-1", "itemknn-2"}
    assert state["status_reason"].startswith("rolled back: candidate: latency_p99_ms")
    (record,) = c.get("/v1/audit", params={"action": "experiments.rollback"}).json()["records"]
    assert (record["actor"], record["target"]) == ("canary-monitor", canary["id"])
    assert {c.get("/v1/recommendations", params={"user_id": f"u{k}"}).json()["model_version"] for k in range(50)} == {"popularity-1"}
    assert c.get("/v1/models").json()["serving"] == 1


def test_promoting_the_canary_version_ends_its_canary(two_versions):
    c = two_versions
    canary = c.post("/v1/models/2/promote", params={"canary": "0.2"}).json()
    r = c.post("/v1/models/2/promote")
    assert r.status_code == 200 and r.json()["status"] == "serving"
    state = c.get(f"/v1/experiments/{canary['id']}").json()
    assert (state["status"], state["status_reason"]) == ("stopped", "v2 promoted")
    assert "experiments" not in c.get("/v1/recommendations", params={"user_id": "u1"}).json()


def test_a_canary_whose_lists_users_do_not_click_is_rolled_back_on_its_served_ctr(settings):
    """End to end: users click half of control's lists and none of the candidate's; the
    server's served-metric check (results through attribution and the analysis) rolls it back."""
    import random
    from dataclasses import replace

    settings = replace(settings, canary_check_s=0.3, canary_min_users=40)
    with open_stores(settings) as stores:
        load_dataset(stores, generate(150, 100, 3_000, seed=3))
        train(stores, "popularity", evaluate=False, promote="always")
        train(stores, "itemknn", evaluate=False, promote="never")
    rng = random.Random(7)
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        r = c.post("/v1/models/2/promote", params={"canary": "0.5", "latency_budget_ms": "60000", "max_error_rate": "1"})
        canary = r.json()
        assert r.status_code == 201 and [g["metric"] for g in canary["guardrails"]][-1] == "ctr"
        deadline, k, n = time.monotonic() + HANG_GUARD_S, 0, 0
        while True:
            for _ in range(40):
                k += 1
                body = c.get("/v1/recommendations", params={"user_id": f"u{k}"}).json()
                (tag,) = [e for e in body.get("experiments", []) if e["id"] == canary["id"]] or [None]
                if tag is not None and tag["variant"] == "control" and rng.random() < 0.5:
                    n += 1
                    c.post("/v1/events", json=[{"id": f"c{n}", "type": "click", "user_id": f"u{k}",
                                                "item_id": body["items"][0]["id"],
                                                "recommendation_id": body["recommendation_id"]}])
            state = c.get(f"/v1/experiments/{canary['id']}").json()
            if state["status"] == "stopped":
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.1)  # pacing only: the loop ends on the status
        assert state["status_reason"].startswith("rolled back: candidate: served metric: ctr"), state["status_reason"]
        assert state["stopped_at"] is not None
        (record,) = c.get("/v1/audit", params={"action": "experiments.rollback"}).json()["records"]
        assert (record["actor"], record["target"]) == ("canary-monitor", canary["id"])
        assert record["summary"]["reason"] == state["status_reason"]


def test_canary_served_metrics_are_analysed_by_one_node_a_round(settings, caplog):
    """While another node holds the ``canary-metrics`` lease this server skips its rounds
    (saying whose they are) and leaves the canary running, even with the data that rolls it
    back; once the lease is free, its own round rolls it back."""
    import logging
    import random
    from dataclasses import replace

    from tastemaker.storage.local.lease import LocalLease

    settings = replace(settings, canary_check_s=0.1, canary_min_users=40)
    with open_stores(settings) as stores:
        load_dataset(stores, generate(150, 100, 3_000, seed=3))
        train(stores, "popularity", evaluate=False, promote="always")
        train(stores, "itemknn", evaluate=False, promote="never")
    other = LocalLease(settings.data_dir, "canary-metrics", owner="node-b:7")
    assert other.acquire()
    caplog.set_level(logging.INFO, logger="tastemaker.api.experiments")
    rng = random.Random(7)
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        r = c.post("/v1/models/2/promote", params={"canary": "0.5", "latency_budget_ms": "60000", "max_error_rate": "1"})
        canary = r.json()
        n = 0
        for k in range(1, 401):  # 400 users, half in each arm: 5x the 40 a round needs per arm
            body = c.get("/v1/recommendations", params={"user_id": f"u{k}"}).json()
            (tag,) = [e for e in body.get("experiments", []) if e["id"] == canary["id"]] or [None]
            if tag is not None and tag["variant"] == "control" and rng.random() < 0.5:
                n += 1
                c.post("/v1/events", json=[{"id": f"c{n}", "type": "click", "user_id": f"u{k}",
                                            "item_id": body["items"][0]["id"],
                                            "recommendation_id": body["recommendation_id"]}])
        skipped = len(caplog.records)
        deadline = time.monotonic() + HANG_GUARD_S
        while sum("another node's (node-b:7)" in rec.getMessage() for rec in caplog.records[skipped:]) < 2:
            assert time.monotonic() < deadline, "the server never reached its next rounds"
            time.sleep(0.05)  # two whole rounds skipped with every click in
        assert c.get(f"/v1/experiments/{canary['id']}").json()["status"] == "running"
        other.release()
        while (state := c.get(f"/v1/experiments/{canary['id']}").json())["status"] != "stopped":
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state["status_reason"].startswith("rolled back: candidate: served metric: ctr"), state["status_reason"]
