"""api.read_after: X-Tastemaker-Position on writes, X-Tastemaker-After on reads, over two engines
of one distributed deployment (PostgreSQL schema and JetStream stream of this test's own)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.api.read_after import ReadAfterMiddleware
from tastemaker.config import Settings
from tastemaker.engine import Engine

from ..storage.postgres_service import PostgresOpener

KEY = "read-after-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    opener = PostgresOpener(tmp_path)
    engines = [Engine(opener.settings(data_dir=tmp_path / name, admin_key=KEY, durable=False, read_wait_s=0.2,
                                      redis_url="redis://127.0.0.1:6379/15", redis_prefix=f"{opener.schema}:"))
               for name in ("w1", "w2")]
    try:
        with TestClient(build_app(engines[0])) as c1, TestClient(build_app(engines[1])) as c2:
            yield c1, c2
    finally:
        opener.cleanup()


def test_a_position_from_one_worker_is_read_on_the_other(two_workers):
    c1, c2 = two_workers
    assert c1.post("/v1/items", json=[{"id": f"i{k}", "title": "t"} for k in range(4)], headers=AUTH).status_code == 200
    r = c1.post("/v1/events", json=[{"id": "a", "type": "view", "user_id": "u1", "item_id": "i1"},
                                    {"id": "b", "type": "view", "user_id": "u1", "item_id": "i2"}], headers=AUTH)
    assert r.json() == {"accepted": 2, "duplicates": 0} and r.headers["X-Tastemaker-Position"] == "2"
    after = {**AUTH, "X-Tastemaker-After": "2"}
    assert c2.get("/v1/users/u1", headers=after).json()["activity"]["event_count"] == 2
    assert c2.get("/v1/recommendations", params={"user_id": "u1"}, headers=after).status_code == 200
    # a resent batch: all duplicates, answered with a position at or after their first copies
    r = c2.post("/v1/events", json=[{"id": "a", "type": "view", "user_id": "u1", "item_id": "i1"}], headers=AUTH)
    assert r.json() == {"accepted": 0, "duplicates": 1} and int(r.headers["X-Tastemaker-Position"]) >= 1


def test_an_unreached_position_is_503_naming_it_and_a_bad_one_400(two_workers):
    c1, _ = two_workers
    r = c1.get("/v1/recommendations", params={"user_id": "u1"}, headers={**AUTH, "X-Tastemaker-After": "77"})
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert "position 77" in r.json()["detail"] and "up to position 0" in r.json()["detail"]
    for bad in ("-1", "1.5", "next", "9" * 20):
        r = c1.get("/v1/users/u1", headers={**AUTH, "X-Tastemaker-After": bad})
        assert r.status_code == 400 and r.json()["field"] == "X-Tastemaker-After", bad


def test_the_embedded_deployment_returns_positions_and_needs_no_wait(tmp_path):
    engine = Engine(Settings(data_dir=tmp_path / "data", admin_key=KEY, durable=False))
    app = build_app(engine)
    with TestClient(app) as c:
        r = c.post("/v1/events", json={"id": "a", "type": "view", "user_id": "u1", "item_id": "i1"}, headers=AUTH)
        assert r.headers["X-Tastemaker-Position"] == "1"
        assert engine.stores.follow is None and engine.ingest.follower is None
        assert all(m.cls is not ReadAfterMiddleware for m in app.user_middleware)  # no per-request cost
