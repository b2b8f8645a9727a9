"""``tastemaker backup`` / ``restore`` (cli/backup.py) end to end: a real server ingests while
the backup is taken; the restored data dir serves the same lists and every acknowledged event.
"""

from __future__ import annotations

import json
import sqlite3
import tarfile
import threading
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import run
from tests.test_end_to_end import Server

CATEGORIES = ["c0", "c1", "c2"]
USERS = [f"user{u}" for u in range(12)]


def seed(c: httpx.Client) -> None:
    """Items in c0..c2 with tastes to learn, and noise items that the checked requests filter out."""
    items = [{"id": f"i{k:02d}", "title": f"Item {k}", "categories": [CATEGORIES[k % 3]], "stock": 5} for k in range(30)]
    items += [{"id": f"n{k:02d}", "title": f"Noise {k}", "categories": ["noise"], "stock": 5} for k in range(20)]
    assert c.post("/v1/items", json=items).status_code == 200
    events = [{"id": f"s-{u}-{j}", "type": "view", "user_id": f"shopper{u}", "item_id": f"i{(u * 7 + j * (u % 5 + 1)) % 30:02d}"}
              for u in range(60) for j in range(8)]
    events += [{"id": f"a-{user}-{j}", "type": "purchase" if j == 2 else "view", "user_id": user,
                "item_id": f"i{(n * 3 + j * 5) % 30:02d}"} for n, user in enumerate(USERS) for j in range(4)]
    r = c.post("/v1/events", json=events)
    assert r.status_code == 200 and r.json()["accepted"] == len(events), r.text


def lists(c: httpx.Client) -> dict:
    """A fixed set of requests: personal lists per category, a cold user, similar items."""
    out = {}
    for user in USERS + ["cold-user"]:
        for category in CATEGORIES:
            r = c.get("/v1/recommendations", params={"user_id": user, "n": 6, "category": category})
            assert r.status_code == 200, r.text
            out[f"{user}/{category}"] = [(e["id"], e["source"]) for e in r.json()["items"]]
    for item in ("i03", "i10"):
        out[f"similar/{item}"] = [e["id"] for e in c.get(f"/v1/items/{item}/similar", params={"n": 5}).json()["items"]]
    return out


def ingest_noise(c: httpx.Client, acked: list[str], stop: threading.Event, started: threading.Event) -> None:
    """Views of noise items by noise users, one acknowledged request at a time."""
    n = 0
    while not stop.is_set():
        event_id = f"noise-{n}"
        r = c.post("/v1/events", json={"id": event_id, "type": "view", "user_id": f"noisy{n % 50}",
                                       "item_id": f"n{n % 20:02d}"})
        assert r.status_code == 200 and r.json()["accepted"] == 1
        acked.append(event_id)
        n += 1
        if n == 20:
            started.set()


def logged_ids(data_dir: Path) -> set[str]:
    conn = sqlite3.connect(data_dir / "tastemaker.db")
    try:
        return {r[0] for r in conn.execute("SELECT id FROM events")}
    finally:
        conn.close()


@pytest.mark.slow
def test_backup_during_ingest_restores_the_same_lists_and_every_acked_event(tmp_path):
    data, restored = tmp_path / "data", tmp_path / "restored"
    server = Server(data, tmp_path).start()
    other = None
    try:
        with server.client() as c:
            seed(c)
        server.stop()
        code, out, err = run("train", "--data-dir", str(data))
        assert code == 0, err
        server.start()
        with server.client() as c:
            before = lists(c)
            sources = {e[1] for v in before.values() for e in v if isinstance(e, tuple)}
            assert {"user_model", "covisitation"} <= sources  # the trained model and online state both answer
            acked: list[str] = []
            stop, started = threading.Event(), threading.Event()
            writer = threading.Thread(target=ingest_noise, args=(server.client(), acked, stop, started))
            writer.start()
            try:
                started.wait()
                acked_at_start = list(acked)
                code, out, err = run("backup", str(tmp_path / "b.tar"), "--data-dir", str(data))
            finally:
                stop.set()
                writer.join()
            assert code == 0, err
            assert lists(c) == before  # noise never reaches the checked lists
        server.stop()
        with tarfile.open(tmp_path / "b.tar") as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
        assert {f["path"] for f in manifest["files"]} >= {"tastemaker.db", "erasure.key"}
        assert any(f["path"].startswith("models/") for f in manifest["files"])

        code, out, err = run("restore", str(tmp_path / "b.tar"), "--data-dir", str(restored))
        assert code == 0, err
        ids = logged_ids(restored)
        assert set(acked_at_start) <= ids  # acknowledged before the backup began: all there
        assert ids - logged_ids(data) == set() and len(ids) == manifest["event_log_position"]
        other = Server(restored, tmp_path).start()
        with other.client() as c:
            assert c.get("/readyz").json()["log_seq"] == manifest["event_log_position"]
            assert lists(c) == before
        code, out, err = run("audit", "list", "--data-dir", str(restored), "--limit", "1")
        assert "backup.restore" in out and str(tmp_path / "b.tar") in out
        code, out, err = run("audit", "list", "--data-dir", str(data), "--action", "backup.")
        assert "backup.create" in out and f'"event_log_position": {manifest["event_log_position"]}' in out
    finally:
        server.kill()
        if other is not None:
            other.kill()


def test_restore_refuses_a_non_empty_target_and_a_damaged_backup(tmp_path, data_dir):
    code, out, err = run("backup", str(tmp_path / "b"), "--data-dir", str(data_dir))
    assert code == 0 and "event log position 800" in out, err
    code, out, err = run("restore", str(tmp_path / "b"), "--data-dir", str(data_dir))
    assert code == 1 and "not empty" in err and "--force" in err
    code, out, err = run("backup", str(tmp_path / "b"), "--data-dir", str(data_dir))
    assert code == 1 and "exists" in err
    (tmp_path / "b" / "tastemaker.db").write_bytes(b"x")
    code, out, err = run("restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new"))
    assert code == 1 and "tastemaker.db: checksum mismatch" in err
    assert not (tmp_path / "new").exists()


def test_distributed_backup_and_restore_through_the_cli_are_audited(tmp_path, monkeypatch):
    from tastemaker.storage.factory import open_stores
    from tests.storage.deployments import distributed_settings, drop_deployment, require_services

    require_services()
    source, target = distributed_settings(tmp_path), distributed_settings(tmp_path)
    try:
        with open_stores(source) as stores:
            from tastemaker.schema.records import Event

            stores.events.append([Event(id=f"e{k}", type="view", user_id=f"u{k % 3}", item_id="i1") for k in range(5)])
        for settings in (source, target):
            for name, value in (("BACKEND", "distributed"), ("POSTGRES_URL", settings.postgres_url),
                                ("NATS_STREAM", settings.nats_stream),
                                ("NATS_SUBJECT_PREFIX", settings.nats_subject_prefix),
                                ("REDIS_URL", settings.redis_url), ("REDIS_PREFIX", settings.redis_prefix)):
                monkeypatch.setenv(f"TASTEMAKER_{name}", value)
            if settings is source:
                code, out, err = run("backup", str(tmp_path / "b.tar"), "--data-dir", str(source.data_dir))
                assert code == 0, err
                assert "event log position 5" in out
        code, out, err = run("restore", str(tmp_path / "b.tar"), "--data-dir", str(target.data_dir))
        assert code == 0, err
        code, out, err = run("restore", str(tmp_path / "b.tar"), "--data-dir", str(target.data_dir))
        assert code == 1 and "holds data" in err  # a second restore onto what the first wrote: refused
        with open_stores(source) as stores:
            assert [r.action for r in stores.audit.read()] == ["backup.create"]
        with open_stores(target) as stores:
            assert {e.id for _, e in stores.events.read_since(0)} == {f"e{k}" for k in range(5)}
            # the backup's own record was written after the copy: the restore's is the only one
            assert [r.action for r in stores.audit.read()] == ["backup.restore"]
    finally:
        drop_deployment(source), drop_deployment(target)
