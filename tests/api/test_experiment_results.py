"""GET /v1/experiments/{id}/results over HTTP: what was served and clicked through the API is
what the results count (linked and unlinked clicks), the HTML report, who may read it (admin,
analyst), bad parameters named, and an erased user gone from the results."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from tastemaker.api.keys import create_key

from .helpers import JOB_POLL_S, assert_problem

BODY = {"id": "exp-r", "placements": ["home"],
        "variants": [{"name": "control", "share": 0.5}, {"name": "treatment", "share": 0.5}]}


def serve_and_click(client: TestClient, users: int = 40) -> dict[str, dict[str, int]]:
    """Every user asks one list; even users click its first item (odd ones with
    ``recommendation_id``, the others unlinked). Returns lists and clicked lists per variant."""
    seen: dict[str, dict[str, int]] = {}
    for u in range(users):
        user = f"r{u}"
        answer = client.get("/v1/recommendations", params={"user_id": user, "placement": "home", "n": 5}).json()
        variant = next(e["variant"] for e in answer["experiments"] if e["id"] == BODY["id"])
        counts = seen.setdefault(variant, {"lists": 0, "clicked": 0, "users": 0})
        counts["lists"] += 1
        counts["users"] += 1
        if u % 2 == 0:
            link = {"recommendation_id": answer["recommendation_id"]} if u % 4 == 0 else {}
            event = {"id": f"click-{u}", "type": "click", "user_id": user, "item_id": answer["items"][0]["id"], **link}
            assert client.post("/v1/events", json=event).status_code == 200
            counts["clicked"] += 1
    return seen


def started(client: TestClient) -> None:
    assert client.post("/v1/experiments", json=BODY).status_code == 201
    assert client.patch(f"/v1/experiments/{BODY['id']}", json={"status": "running"}).status_code == 200


def test_results_count_what_was_served_and_clicked(seeded: TestClient):
    started(seeded)
    seen = serve_and_click(seeded)
    r = seeded.get(f"/v1/experiments/{BODY['id']}/results")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["users"] == 40 and doc["outcomes"] == {"click": 20}
    for variant, counts in seen.items():
        figures = doc["metrics"][variant]
        assert (figures["users"], figures["lists"]) == (counts["users"], counts["lists"])
        assert figures["ctr"] == counts["clicked"] / counts["lists"]
    assert doc["verdict"] in ("no_difference_yet", "ship", "keep_control") and doc["analysis"]["primary"] == "ctr"
    html = seeded.get(f"/v1/experiments/{BODY['id']}/results", params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.text.startswith("<!DOCTYPE html>") and "exp-r" in html.text


def test_who_may_read_results_and_bad_parameters(seeded: TestClient):
    started(seeded)
    keys = seeded.app.state.engine.stores.keys
    url = f"/v1/experiments/{BODY['id']}/results"
    for role, status in (("analyst", 200), ("read", 403), ("ingest", 403)):
        _, token = create_key(keys, role, {role})
        assert seeded.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == status, role
    assert_problem(seeded.get("/v1/experiments/nope/results"), 404, "id")
    assert_problem(seeded.get(url, params={"format": "pdf"}), 400, "format")
    assert_problem(seeded.get(url, params={"window_s": "-5"}), 400, "window_s")
    assert_problem(seeded.get(url, params={"pre_period_s": "soon"}), 400, "pre_period_s")


def test_an_erased_user_is_gone_from_the_results(seeded: TestClient):
    started(seeded)
    serve_and_click(seeded, users=8)
    before = seeded.get(f"/v1/experiments/{BODY['id']}/results").json()
    job = seeded.delete("/v1/users/r0", params={"erase": "true"}).json()
    while job["status"] == "running":
        time.sleep(JOB_POLL_S)
        job = seeded.get(f"/v1/privacy/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    after = seeded.get(f"/v1/experiments/{BODY['id']}/results").json()
    assert (before["users"], after["users"]) == (8, 7)
    assert before["outcomes"]["click"] - after["outcomes"]["click"] == 1  # r0's click went with them
