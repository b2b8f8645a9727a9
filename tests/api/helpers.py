"""A small, fully known catalog and event history for the API tests.

40 items ``i00``..``i39``: category ``c{k % 4}``, brand ``b{k % 2}``, stock 10. Items come in
pairs (``i00``, ``i01``), (``i02``, ``i03``), ...: for each pair three ``base`` users viewed
both, so each item's strongest co-visitation neighbour is its partner.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.testclient import TestClient

N_ITEMS = 40
PROBLEM = "application/problem+json"
JOB_WAIT_S = 300.0  # a cap for a hung train job, not an expected time (a small fit takes seconds)
JOB_POLL_S = 0.02


def item_id(k: int) -> str:
    return f"i{k:02d}"


def partner(k: int) -> str:
    return item_id(k ^ 1)


def catalog() -> list[dict[str, Any]]:
    return [
        {"id": item_id(k), "title": f"Item {k}", "categories": [f"c{k % 4}"], "brand": f"b{k % 2}",
         "price": 10.0 + k, "stock": 10}
        for k in range(N_ITEMS)
    ]


def base_events() -> list[dict[str, Any]]:
    events = []
    for pair in range(N_ITEMS // 2):
        for j in range(3):
            user = f"base-{pair}-{j}"
            for k in (2 * pair, 2 * pair + 1):
                events.append({"id": f"base-{pair}-{j}-{k}", "type": "view", "user_id": user, "item_id": item_id(k)})
    return events


def seed(client: TestClient) -> None:
    r = client.post("/v1/items", json=catalog())
    assert r.status_code == 200, r.text
    r = client.post("/v1/events", json=base_events())
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": len(base_events()), "duplicates": 0}


def log_seq(client: TestClient) -> int:
    r = client.get("/readyz")
    assert r.status_code == 200
    return r.json()["log_seq"]


def recommend(client: TestClient, user_id: str, **params: Any) -> dict[str, Any]:
    r = client.get("/v1/recommendations", params={"user_id": user_id, **params})
    assert r.status_code == 200, r.text
    return r.json()


def rec_ids(client: TestClient, user_id: str, **params: Any) -> list[str]:
    return [i["id"] for i in recommend(client, user_id, **params)["items"]]


def assert_problem(response, status: int, field: str | None = None) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with ``status``, naming ``field`` (when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    if field is not None:
        assert body["field"] == field, body
        assert any(e["field"] == field for e in body["errors"]), body
    return body


def wait_for_job(client: Any, job: dict[str, Any] | str, *, until: tuple[str, ...] = ("succeeded", "failed"),
                 timeout_s: float = JOB_WAIT_S) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll ``GET /v1/models/train/jobs/{id}`` until the job's status is in ``until``.

    ``client`` is a TestClient or an httpx client of a real server. Returns the last body and
    every distinct body seen on the way, in order (to check states and progress). A job that
    never gets there fails the test at ``timeout_s``.
    """
    job_id = job if isinstance(job, str) else job["id"]
    deadline = time.monotonic() + timeout_s
    seen: list[dict[str, Any]] = []
    while True:
        r = client.get(f"/v1/models/train/jobs/{job_id}")
        assert r.status_code == 200, r.text
        body = r.json()
        if not seen or body != seen[-1]:
            seen.append(body)
        if body["status"] in until:
            return body, seen
        assert time.monotonic() < deadline, f"train job {job_id} still {body['status']} after {timeout_s}s: {body}"
        time.sleep(JOB_POLL_S)


def train(client: Any, body: dict[str, Any] | None = None, *, timeout_s: float = JOB_WAIT_S) -> dict[str, Any]:
    """``POST /v1/models/train`` (202, a queued job), then wait until the job ends; returns the
    final job. When it promoted a version, also waits until the server serves it."""
    r = client.post("/v1/models/train", json=body or {})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/models/train/jobs/{r.json()['id']}"
    job, _ = wait_for_job(client, r.json(), timeout_s=timeout_s)
    result = job["result"] or {}
    if result.get("promoted"):
        version = result["version"]["version"]
        deadline = time.monotonic() + timeout_s
        while client.get("/v1/models").json()["serving"] != version:
            assert time.monotonic() < deadline, f"v{version} not served after {timeout_s}s"
            time.sleep(JOB_POLL_S)
    return job
