"""/healthz and /readyz."""

from __future__ import annotations

from .helpers import base_events, catalog


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
