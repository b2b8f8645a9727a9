"""Backup and restore of the distributed deployment (PostgreSQL + JetStream + configuration):
a backup taken while a server runs, restored onto EMPTY services (a fresh PostgreSQL schema,
a fresh stream, a fresh data dir), serves the same recommendations for a fixed set of requests
and holds every acknowledged event at its position; a target that holds data is refused with
nothing written; a backup of the other deployment is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.storage.backup import BackupError
from tastemaker.storage.factory import open_backup, open_stores
from tests.api.helpers import base_events, item_id, rec_ids, seed, train
from tests.conftest import ADMIN_KEY

from .deployments import distributed_settings, drop_deployment, require_services

USERS = [f"base-{pair}-{j}" for pair in range(0, 20, 3) for j in range(3)] + ["nobody-yet"]


@pytest.fixture
def deployments(tmp_path: Path):
    require_services()
    made = [distributed_settings(tmp_path), distributed_settings(tmp_path)]
    yield made
    for settings in made:
        drop_deployment(settings)


def _client(settings: Settings) -> TestClient:
    return TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"})


def test_a_restore_onto_empty_services_serves_the_same_lists_with_every_acked_event(deployments, tmp_path):
    source, target = deployments
    with _client(source) as c:
        seed(c)  # the catalogue and every base event, acknowledged (200)
        job = train(c, {"family": "popularity", "promote": "always"})
        assert job["status"] == "succeeded"
        later = [{"id": f"late-{k}", "type": "view", "user_id": "base-0-0", "item_id": item_id(k)} for k in (5, 6)]
        assert c.post("/v1/events", json=later).json() == {"accepted": 2, "duplicates": 0}
        before = {u: rec_ids(c, u) for u in USERS}
        assert all(before.values()) and len({tuple(v) for v in before.values()}) > 1  # personal lists
        manifest = open_backup(source).create(tmp_path / "backup.tar.gz")  # online: the server still runs
        version = c.get("/v1/models").json()["serving"]
    acked = {e["id"] for e in base_events() + later}
    assert manifest.deployment == "distributed" and manifest.event_log_position == len(acked)
    assert any(f.path == "nats/events.stream" for f in manifest.files)
    assert "admin_key" not in manifest.settings and manifest.settings["nats_stream"] == source.nats_stream

    restored = open_backup(target).restore(tmp_path / "backup.tar.gz")
    assert restored.event_log_position == manifest.event_log_position
    with open_stores(target) as stores:
        rows = stores.events.read_since(0, limit=10_000)
        assert {e.id for _, e in rows} == acked  # every acknowledged event
        with open_stores(source) as original:
            assert [s for s, _ in rows] == [s for s, _ in original.events.read_since(0, limit=10_000)]  # at its position
        assert stores.items.get(item_id(3)) is not None
    with _client(target) as c:
        assert c.get("/v1/models").json()["serving"] == version
        assert {u: rec_ids(c, u) for u in USERS} == before
        # dedupe survives: a client resending an acknowledged event is told it is a duplicate
        assert c.post("/v1/events", json=later[:1]).json() == {"accepted": 0, "duplicates": 1}


def test_a_target_that_holds_data_is_refused_and_left_as_it_was(deployments, tmp_path):
    source, target = deployments
    with _client(source) as c:
        seed(c)
    open_backup(source).create(tmp_path / "b")
    with _client(target) as c:
        assert c.post("/v1/events", json=[{"id": "mine", "type": "view", "user_id": "u", "item_id": "x"}]).status_code == 200
    with pytest.raises(BackupError, match="holds data|not empty"):
        open_backup(target).restore(tmp_path / "b")
    with open_stores(target) as stores:
        assert [e.id for _, e in stores.events.read_since(0)] == ["mine"]
    open_backup(target).restore(tmp_path / "b", force=True)  # --force replaces it
    with open_stores(target) as stores:
        assert {e.id for _, e in stores.events.read_since(0, limit=10_000)} == {e["id"] for e in base_events()}


def test_an_embedded_backup_is_refused_by_the_distributed_deployment(deployments, tmp_path):
    embedded = Settings(data_dir=tmp_path / "embedded", durable=False)
    open_stores(embedded).close()
    open_backup(embedded).create(tmp_path / "e.tar")
    with pytest.raises(BackupError, match="a backup of the embedded deployment, not distributed"):
        open_backup(deployments[1]).restore(tmp_path / "e.tar")
