"""The server applies the retention policy periodically; the job is listed with the erasure jobs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine

from ..conftest import ADMIN_KEY


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False,
                        retention={"view": 90.0, "*": 730.0}, retention_every_s=0.2)
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        yield c


def test_periodic_retention_deletes_old_events_and_reports_the_job(client: TestClient):
    now = time.time()
    assert client.post("/v1/items", json=[{"id": "i1"}, {"id": "i2"}]).status_code < 300
    events = [{"id": "old-1", "type": "view", "user_id": "u1", "item_id": "i1", "timestamp": now - 100 * 86_400},
              {"id": "old-2", "type": "purchase", "user_id": "u1", "item_id": "i2", "timestamp": now - 100 * 86_400},
              {"id": "new-1", "type": "view", "user_id": "u2", "item_id": "i2", "timestamp": now - 86_400}]
    assert client.post("/v1/events", json=events).status_code == 200
    engine = client.app.state.engine
    for _ in range(200):  # the loop runs every 0.2 s; a job that deleted something is done
        jobs = client.get("/v1/privacy/jobs").json()["jobs"]
        done = [j for j in jobs if j.get("kind") == "retention" and j["status"] == "done" and j["steps"].get("events_deleted")]
        if done:
            break
        time.sleep(0.05)
    assert done and done[-1]["steps"]["events_deleted"] == {"view": 1}
    assert client.get(f"/v1/privacy/jobs/{done[-1]['id']}").json()["kind"] == "retention"
    assert engine.stores.events.count() == 2
    assert engine.state.users["u1"].event_count == 1  # the purchase (730 days) stays, the view went
    assert client.get("/v1/recommendations", params={"user_id": "u1", "placement": "home"}).status_code == 200
