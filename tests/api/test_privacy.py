"""Erasure over HTTP: ``DELETE /v1/users/{id}?erase=true`` and the privacy job resource."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from tastemaker.privacy.scan import scan

from .helpers import JOB_POLL_S, JOB_WAIT_S, assert_problem, item_id, rec_ids, seed

GONE = "person-4c1e9"


def _history(client: TestClient) -> None:
    events = [{"id": f"{GONE}-e{k}", "type": "purchase" if k % 3 == 0 else "view", "user_id": GONE,
               "item_id": item_id(k % 10), "context": {"ip": "10.1.2.3", "device": "mobile"}} for k in range(30)]
    events.append({"id": f"{GONE}-q", "type": "search", "user_id": GONE, "query": "a private query"})
    assert client.post("/v1/events", json=events).status_code == 200
    assert client.put(f"/v1/users/{GONE}", json={"id": GONE, "traits": {"email": "x@example.com"}}).status_code == 200
    rec_ids(client, GONE)  # an impression naming them


def _wait(client: TestClient, job_id: str) -> dict:
    deadline = time.monotonic() + JOB_WAIT_S
    while True:
        job = client.get(f"/v1/privacy/jobs/{job_id}").json()
        if job["status"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(JOB_POLL_S)


def test_erase_reaches_everything(client: TestClient, data_dir):
    seed(client)
    _history(client)
    engine = client.app.state.engine
    engine.processor.maybe_snapshot(force=True)  # a snapshot that names them
    assert scan(data_dir, GONE)
    newcomer = rec_ids(client, "never-seen-before")
    assert rec_ids(client, GONE) != newcomer

    r = client.delete(f"/v1/users/{GONE}", params={"erase": "true"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/privacy/jobs/{job['id']}"
    assert GONE not in r.text  # the job names a keyed digest
    assert rec_ids(client, GONE) == rec_ids(client, "never-seen-before")  # the very next request

    job = _wait(client, job["id"])
    assert job["status"] == "done", job
    assert job["steps"]["events"] == 31 and job["steps"]["profile"] == 1
    assert all(r.user_id != GONE for r in engine.stores.impressions.read())  # written or still buffered: none
    assert job["steps"]["artifacts_holding_id"] == []
    assert client.get(f"/v1/users/{GONE}").status_code == 404
    assert rec_ids(client, GONE) == rec_ids(client, "never-seen-before")
    assert scan(data_dir, GONE) == {}
    audit = client.get("/v1/audit", params={"action": "user.erase"}).json()
    assert audit["records"][0]["target"] == job["subject"]


def test_events_for_an_erased_user_are_refused(client: TestClient):
    seed(client)
    _history(client)
    job = client.delete(f"/v1/users/{GONE}", params={"erase": "1"}).json()
    r = client.post("/v1/events", json=[{"id": "ok-1", "type": "view", "user_id": "someone", "item_id": "i01"},
                                        {"id": "late-1", "type": "view", "user_id": GONE, "item_id": "i01"}])
    body = assert_problem(r, 409, "/1/user_id")
    assert GONE not in r.text and body["title"] == "Erased user"
    assert client.get("/v1/events").status_code in (404, 405)
    assert _wait(client, job["id"])["status"] == "done"
    r = client.post("/v1/events", json={"id": f"{GONE}-e1", "type": "view", "user_id": GONE, "item_id": "i01"})
    assert_problem(r, 409, "/user_id")  # a replay of an erased event id too


def test_consent_audit_records_are_kept_and_counted(client: TestClient, data_dir):
    """The audit log is append-only and hash-chained: consent changes naming the user stay, as
    the record of consent (Art. 17(3)(b)); the job counts them and they are the only trace."""
    seed(client)
    _history(client)
    assert client.patch(f"/v1/users/{GONE}", json={"consent": {"personalization": False}}).status_code == 200
    job = _wait(client, client.delete(f"/v1/users/{GONE}", params={"erase": "true"}).json()["id"])
    assert job["status"] == "done" and job["steps"]["audit_records_kept"] == 1
    assert list(scan(data_dir, GONE)) == ["tastemaker.db"]
    from tastemaker.storage.audit_chain import verify

    assert verify(client.app.state.engine.stores.audit.iter_all()).ok


def test_plain_delete_and_bad_parameters(client: TestClient):
    seed(client)
    _history(client)
    assert client.delete(f"/v1/users/{GONE}").status_code == 204  # the profile only, as before
    assert_problem(client.delete(f"/v1/users/{GONE}", params={"erase": "maybe"}), 400, "erase")
    assert_problem(client.get("/v1/privacy/jobs/nope"), 404, "id")


def test_erasure_needs_admin(client: TestClient):
    seed(client)
    key = client.post("/v1/keys", json={"name": "tracker", "scopes": ["ingest"]}).json()["token"]
    r = client.delete(f"/v1/users/{GONE}", params={"erase": "true"}, headers={"Authorization": f"Bearer {key}"})
    assert_problem(r, 403)
    assert client.get("/v1/privacy/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 403


def test_an_erasure_started_without_the_lifespan_finishes_off_the_ended_loop(settings, recwarn):
    """An app driven without its lifespan (each TestClient request on a loop that then ends): the
    job's state changes run in its thread once the loop is gone, instead of a coroutine for a
    closed loop (never awaited) or a result from a stopped one (a hung thread)."""
    import gc

    from tastemaker.api import privacy
    from tastemaker.api.app import build_app
    from tastemaker.engine import Engine
    from tests.conftest import ADMIN_KEY

    engine = Engine(settings)
    client = TestClient(build_app(engine), headers={"Authorization": f"Bearer {ADMIN_KEY}"})  # no `with`: no lifespan
    assert client.post("/v1/events", json=[{"id": f"g{k}", "type": "view", "user_id": GONE, "item_id": "i1"}
                                           for k in range(3)]).status_code == 200
    r = client.delete(f"/v1/users/{GONE}", params={"erase": "true"})
    assert r.status_code == 202
    threads = [t for t, owner in list(privacy._threads.items()) if owner is engine]
    for thread in threads:
        thread.join(JOB_WAIT_S)  # a cap against a hang, which is what this test is about
        assert not thread.is_alive()
    job = engine.eraser.jobs[r.json()["id"]]
    assert job.status == "done" and job.steps["events"] == 3
    gc.collect()
    assert not [w for w in recwarn if "never awaited" in str(w.message)]
    engine.close()
