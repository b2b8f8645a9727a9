"""Pseudonymization over HTTP: callers use their own user ids, the data dir holds only pseudonyms."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest
from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.privacy.pseudonyms import KEY_FILE
from tastemaker.privacy.scan import scan

from ..conftest import ADMIN_KEY
from .helpers import JOB_POLL_S, JOB_WAIT_S, assert_problem, item_id, rec_ids, seed

RAW = "margaret.hamilton/7c1f@shop"  # a '/' too: the path segment is encoded


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=data_dir, admin_key=ADMIN_KEY, durable=False, pseudonymize=True)
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        yield c


def _path(user_id: str) -> str:
    return "/v1/users/" + user_id.replace("/", "%2F")


def _wait(client: TestClient, job_id: str) -> dict:
    deadline = time.monotonic() + JOB_WAIT_S
    while (job := client.get(f"/v1/privacy/jobs/{job_id}").json())["status"] == "running" and time.monotonic() < deadline:
        time.sleep(JOB_POLL_S)
    return job


def _flush_to_files(client: TestClient) -> None:
    engine = client.app.state.engine
    engine.recommender.impressions.flush()
    engine.processor.maybe_snapshot(force=True)
    engine.stores.reclaim()


def test_no_file_holds_the_raw_id_through_ingest_reads_export_and_erase(client: TestClient, data_dir: Path):
    seed(client)
    pseudonym = client.app.state.engine.pseudonyms(RAW)
    assert (data_dir / KEY_FILE).stat().st_mode & 0o777 == 0o600
    doc = {"id": RAW, "traits": {"tier": "gold"}, "consent": {"analytics": True}}
    assert client.put(_path(RAW), json=doc).status_code == 200
    assert client.post("/v1/users", json=[{"id": RAW, "traits": {"tier": "platinum"}, "consent": {"analytics": True}}]).status_code == 200
    assert client.patch(_path(RAW), json={"id": RAW, "traits": {"city": "Boston"}}).status_code == 200
    events = [{"id": f"e{k}", "type": "view", "user_id": RAW, "item_id": item_id(2 * k)} for k in range(5)]
    assert client.post("/v1/events", json=events).json() == {"accepted": 5, "duplicates": 0}

    profile = client.get(_path(RAW)).json()  # the caller's id reaches the stored pseudonym
    assert profile["id"] == pseudonym and profile["activity"]["event_count"] == 5
    assert profile["traits"] == {"tier": "platinum", "city": "Boston"}
    personal = rec_ids(client, RAW)
    assert personal != rec_ids(client, "someone-new")
    assert item_id(1) in personal  # the partner of an item they viewed: their history is used

    # a browser key bound to the raw id: stored bound to the pseudonym, works with the raw id
    key = client.post("/v1/keys", json={"name": "page", "scopes": ["browser"], "user_id": RAW}).json()
    assert key["user_id"] == pseudonym
    browser = TestClient(client.app, headers={"Authorization": f"Bearer {key['token']}"})
    ok = browser.post("/v1/events", json={"id": "b1", "type": "click", "user_id": RAW, "item_id": item_id(7)})
    assert ok.status_code == 200, ok.text
    assert browser.get("/v1/recommendations", params={"user_id": RAW}).status_code == 200
    assert_problem(browser.get("/v1/recommendations", params={"user_id": "other"}), 403)
    assert_problem(browser.post("/v1/events", json={"id": "b2", "type": "click", "user_id": pseudonym, "item_id": "i01"}), 403)

    export = client.get(_path(RAW) + "/export")
    assert export.status_code == 200 and export.json()["counts"]["events"] == 6
    consent = client.get("/v1/audit", params={"action": "consent.change"}).json()["records"]
    assert {r["target"] for r in consent} == {pseudonym}
    _flush_to_files(client)
    assert scan(data_dir, RAW) == {}  # nothing names the caller's id ...
    assert scan(data_dir, pseudonym)  # ... while the pseudonym is what is stored

    r = client.delete(_path(RAW), params={"erase": "true"})
    assert r.status_code == 202, r.text
    job = _wait(client, r.json()["id"])
    assert job["status"] == "done" and job["steps"]["events"] == 6 and job["steps"]["profile"] == 1
    assert rec_ids(client, RAW) == rec_ids(client, "someone-else-new")
    assert_problem(client.post("/v1/events", json={"id": "late", "type": "view", "user_id": RAW, "item_id": "i01"}),
                   409, "/user_id")  # the tombstone is keyed on the pseudonym
    assert client.get(_path(RAW)).status_code == 404
    _flush_to_files(client)
    assert scan(data_dir, RAW) == {}
    # the pseudonym stays only in the two audit records kept by decision (consent.change, users.export)
    assert job["steps"]["audit_records_kept"] == 2 and set(scan(data_dir, pseudonym)) == {"tastemaker.db"}


def test_over_long_ids_are_refused_not_hashed(client: TestClient):
    assert_problem(client.get("/v1/recommendations", params={"user_id": "x" * 300}), 400, "user_id")
    assert_problem(client.post("/v1/events", json={"id": "e", "type": "view", "user_id": "", "item_id": "i"}), 422)
