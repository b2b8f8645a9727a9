"""/healthz and /readyz."""

from __future__ import annotations

from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine

from ..conftest import ADMIN_KEY
from ..small_fs import fill, small_filesystem
from .helpers import PROBLEM, assert_problem, base_events, catalog, item_id, seed


def test_healthz(anon):
    r = anon.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_counts_follow_writes(client, anon):
    body = anon.get("/readyz").json()
    assert body == {"status": "ready", "applied_seq": 0, "log_seq": 0, "items": 0, "users": 0}
    client.post("/v1/items", json=catalog())
    client.post("/v1/events", json=base_events())
    body = anon.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["log_seq"] == body["applied_seq"] == len(base_events())
    assert body["items"] == len(catalog())
    assert body["users"] == len({e["user_id"] for e in base_events()})
    client.delete("/v1/items/i00")
    assert anon.get("/readyz").json()["items"] == len(catalog()) - 1


def test_readyz_is_503_when_the_database_fails(client, anon, monkeypatch):
    import sqlite3

    def broken():
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(client.app.state.engine.stores.events, "last_seq", broken)
    r = anon.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "detail": "disk I/O error"}
    assert anon.get("/healthz").status_code == 200  # alive, just not ready


def _events(batch: int, n: int = 200) -> list[dict]:
    # properties make each batch big enough to outgrow what the WAL already holds
    return [{"id": f"full-{batch}-{k}", "type": "view", "user_id": f"u{k % 7}", "item_id": item_id(k % 40),
             "properties": {"note": "x" * 1500}} for k in range(n)]


def test_a_full_disk_answers_507_reports_not_ready_and_recovers(tmp_path):
    """A really full disk (a small tmpfs): writes answer 507, never 500, and store nothing;
    /readyz says not ready until space is back; shutdown leaves no temp snapshot behind."""
    with small_filesystem(tmp_path / "small", size_mb=16) as mount:
        settings = Settings(data_dir=mount / "data", admin_key=ADMIN_KEY, durable=True)
        acknowledged = len(base_events())
        with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
            seed(client)
            assert client.get("/readyz").status_code == 200
            filler = fill(mount)
            statuses = []
            for batch in range(40):  # bounded: the disk is full, one of these outgrows the WAL
                r = client.post("/v1/events", json=_events(batch))
                statuses.append(r.status_code)
                if r.status_code == 200:
                    acknowledged += r.json()["accepted"]
                else:
                    break
            assert statuses[-1] == 507 and set(statuses) <= {200, 507}, statuses
            body = assert_problem(r, 507)
            assert body["title"] == "Insufficient Storage" and "not stored" in body["detail"]
            assert r.headers["content-type"] == PROBLEM and r.headers["retry-after"] == "30"

            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"] == "30"
            assert ready.json()["status"] == "storage_full" and "lack of space" in ready.json()["detail"]
            assert client.get("/healthz").status_code == 200  # alive: reads still work
            assert client.get("/v1/recommendations", params={"user_id": "u1"}).status_code == 200
            assert client.get("/readyz").status_code == 503  # the probe write fails too: still not ready

            filler.unlink()  # space is back: ready again without any client write
            ready = client.get("/readyz").json()
            assert ready["status"] == "ready" and ready["log_seq"] == acknowledged  # nothing half-written
            assert client.post("/v1/events", json=_events(99, n=5)).status_code == 200
            acknowledged += 5
            assert not list((mount / "data").glob(".readyz*"))  # the probe cleans up after itself

            fill(mount)  # full again at shutdown: the snapshot cannot be written
        assert not list((mount / "data").glob(".snapshot-*"))  # no temp (0-byte or partial) file left
        assert not (mount / "data" / "state.snapshot").exists()
        (mount / "filler.bin").unlink()
        engine = Engine(settings)  # the log has everything: a replay restores it
        try:
            assert engine.state.applied_seq == acknowledged
        finally:
            engine.close(snapshot=False)
