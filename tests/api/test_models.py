"""``/v1/models/train``: bad requests are 4xx before any job exists; a train job goes queued ->
running -> succeeded (or failed, with a clear error) and every process reads it; a poisoned log
still trains; the training pool leaves nothing behind when the server is stopped."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from starlette.testclient import TestClient

from tastemaker.api.app import build_app
from tastemaker.api.models import check_family_params
from tastemaker.engine import Engine
from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import Event
from tastemaker.training.model_registry import ModelRegistry
from tests.conftest import ADMIN_KEY

from .helpers import JOB_POLL_S, JOB_WAIT_S, assert_problem, seed, train, wait_for_job


def test_unknown_training_parameter_is_422_naming_it_and_the_known_ones(client):
    r = client.post("/v1/models/train", json={"family": "popularity", "params": {"bogus": 1}})
    body = assert_problem(r, 422, "/params/bogus")
    assert body["errors"][0]["reason"] == "unknown parameter of family 'popularity'; known: weighted"
    assert client.get("/v1/models").json()["versions"] == []
    assert client.get("/v1/models/train/jobs").json() == {"jobs": []}  # refused before any job was created


def test_every_bad_parameter_is_listed(client):
    r = client.post("/v1/models/train", json={"family": "als", "params": {"factors": "many", "nope": 1, "alpha": 2}})
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["/params/factors", "/params/nope"]
    assert body["errors"][0]["reason"] == "Expected `int`, got `str`"
    assert "regularization" in body["errors"][1]["reason"]


def test_unknown_family_is_422_listing_the_families(client):
    body = assert_problem(client.post("/v1/models/train", json={"family": "poplarity"}), 422, "/family")
    reason = body["errors"][0]["reason"]
    assert reason.startswith("unknown model family 'poplarity'; did you mean 'popularity'? known: ")
    assert "als" in reason and "hybrid" in reason


def test_params_are_converted_to_the_declared_types():
    assert check_family_params("session_ease", {"session_gaps": [0, 60]}) == {"session_gaps": (0.0, 60.0)}
    with pytest.raises(ValidationFailed):
        check_family_params("itemknn", {"k": True})  # a bool is not an int


def test_malformed_train_request_names_the_position(client):
    body = assert_problem(client.post("/v1/models/train", content=b'{"family": popularity}'), 400)
    assert "line 1, column" in body["detail"]
    assert client.get("/v1/models/train/jobs").json() == {"jobs": []}


def test_a_log_with_an_extreme_rating_still_trains_and_reports_it(client):
    """1e308 in the log (written before values were validated) once failed every training run."""
    seed(client)
    engine = client.app.state.engine
    poisoned = [Event(id=f"old-{k}", type="rating", user_id=f"base-0-{k}", item_id="i05", value=v, timestamp=1.7e9)
                for k, v in enumerate([1e308, float("inf"), 9.0])]
    assert engine.stores.events.append(poisoned).accepted  # straight into the log, as old data would be
    job = train(client, {"family": "als", "params": {"factors": 8, "iterations": 3}, "promote": "always"})
    assert job["status"] == "succeeded", job
    assert job["result"]["out_of_range_values"] == 3
    assert job["result"]["promoted"] is True
    recs = client.get("/v1/recommendations", params={"user_id": "base-0-0"})
    assert recs.status_code == 200 and recs.json()["items"]


def test_a_train_job_goes_queued_running_succeeded_with_monotone_progress(seeded):
    r = seeded.post("/v1/models/train", json={"family": "popularity", "promote": "always"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/models/train/jobs/{job['id']}"
    assert job["status"] == "queued" and job["progress"] == 0.0 and job["stage"] is None
    assert job["request"] == {"family": "popularity", "params": {}, "promote": "always"}
    assert job["result"] is None and job["error"] is None and job["started_at"] is None

    final, seen = wait_for_job(seeded, job)
    assert final["status"] == "succeeded", final
    statuses = [b["status"] for b in seen]
    assert statuses == sorted(statuses, key=["queued", "running", "succeeded"].index)  # never back
    progress = [b["progress"] for b in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert [b["stage_number"] for b in seen] == sorted(b["stage_number"] for b in seen)
    assert final["stage"] == "register" and final["stage_number"] == final["stages"] == 5
    assert final["created_at"] <= final["started_at"] <= final["finished_at"]
    assert final["error"] is None

    version = final["result"]["version"]
    assert final["result"]["promoted"] is True and version["family"] == "popularity"
    engine = seeded.app.state.engine
    assert ModelRegistry(engine.stores.models, engine.stores.artifacts).load(version["version"]).family == "popularity"
    deadline = time.monotonic() + 300  # the follower swaps it in; the cap only guards a hang
    while seeded.get("/v1/models").json()["serving"] != version["version"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert seeded.get("/v1/recommendations", params={"user_id": "base-0-0"}).json()["model_version"] == "popularity-1"
    assert [j["id"] for j in seeded.get("/v1/models/train/jobs").json()["jobs"]] == [job["id"]]


def test_training_an_empty_log_fails_with_a_clear_error(client):
    r = client.post("/v1/models/train", json={"family": "popularity"})
    assert r.status_code == 202, r.text  # the log is read by the worker, not by the request
    final, _ = wait_for_job(client, r.json())
    assert final["status"] == "failed"
    assert final["error"] == {"title": "Cannot train", "detail": "the event log is empty: nothing to train on"}
    assert final["result"] is None and final["finished_at"] >= final["created_at"]
    assert client.get("/v1/models").json()["versions"] == []


def test_jobs_run_one_at_a_time_and_list_newest_first(seeded):
    first = seeded.post("/v1/models/train", json={"family": "popularity", "promote": "never"}).json()
    second = seeded.post("/v1/models/train", json={"family": "popularity", "promote": "never"}).json()
    assert first["status"] == second["status"] == "queued"
    first, _ = wait_for_job(seeded, first)
    second, _ = wait_for_job(seeded, second)
    assert first["status"] == second["status"] == "succeeded"
    assert second["started_at"] >= first["finished_at"]  # the server's one worker: the second waited
    assert [j["id"] for j in seeded.get("/v1/models/train/jobs").json()["jobs"]] == [second["id"], first["id"]]


def test_an_unknown_job_is_404_naming_it(client):
    body = assert_problem(client.get("/v1/models/train/jobs/0123abc-nope"), 404, "id")
    assert "0123abc-nope" in body["errors"][0]["reason"]


@pytest.mark.parametrize("bad", ["bad.id", "x" * 65, "a b", "%2e%2e", "sémantique"])
def test_a_malformed_job_id_is_400(client, bad):
    body = assert_problem(client.get(f"/v1/models/train/jobs/{bad}"), 400, "id")
    assert "1-64" in body["errors"][0]["reason"]


def test_job_documents_survive_a_new_engine_on_the_same_data_dir(settings):
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        seed(c)
        done = train(c, {"family": "popularity"})
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        assert c.get(f"/v1/models/train/jobs/{done['id']}").json() == done
        assert c.get("/v1/models/train/jobs").json() == {"jobs": [done]}


def test_a_job_in_flight_when_the_server_stops_ends_failed(settings):
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        seed(c)
        job = c.post("/v1/models/train", json={"family": "hybrid"}).json()  # seconds of work: still going at exit
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        final = c.get(f"/v1/models/train/jobs/{job['id']}").json()
    assert final["status"] == "failed", final
    assert final["error"]["title"] == "Server stopped"


def _resource_tracker_of(pid: int) -> int | None:
    """The pid of the multiprocessing resource tracker that ``pid`` started (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"resource_tracker" in cmdline:
            return int(entry.name)
    return None


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaped has finished)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the resource tracker through /proc")
def test_sigterm_after_training_leaves_no_leaked_semaphores(tmp_path):
    """The issue saw "5 leaked semaphore objects" (the training pool's queues) after SIGTERM."""
    from tests.test_end_to_end import GRACEFUL, Server

    server = Server(tmp_path / "data", tmp_path)
    try:
        server.start()
        with server.client() as c:
            assert c.post("/v1/items", json=[{"id": f"i{k}"} for k in range(6)]).status_code == 200
            events = [{"id": f"e{k}", "type": "view", "user_id": f"u{k % 3}", "item_id": f"i{k % 6}"} for k in range(30)]
            assert c.post("/v1/events", json=events).status_code == 200
            # the training pool (a spawned worker and its queues) exists once a model was trained
            for family in ("popularity", "als"):
                assert train(c, {"family": family, "promote": "always"})["status"] == "succeeded"
        tracker = _resource_tracker_of(server.proc.pid)
        assert tracker is not None
        assert server.stop(signal.SIGTERM) in GRACEFUL
        # The tracker reports leaks when it sees its server go, then exits: wait for that.
        deadline = time.monotonic() + 120  # a cap, not the expected time (well under a second)
        while _running(tracker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(tracker)
    finally:
        server.kill()
    log = server.log.read_text()
    assert "leaked semaphore" not in log, log
    assert "Traceback" not in log, log


def test_periodic_retraining_and_its_promotion_are_audited(settings):
    settings.retrain_every_s = 0.2
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        seed(client)
        audit = client.app.state.engine.stores.audit
        deadline = time.monotonic() + JOB_WAIT_S  # a cap for a hung job; the loop waits for the record
        while not [r for r in audit.read(descending=False) if r.action == "models.promote"]:
            assert time.monotonic() < deadline, "no periodic train job promoted a version"
            time.sleep(JOB_POLL_S)
        records = list(audit.read(descending=False))
    started = [r for r in records if r.action == "models.train"]
    (promoted,) = [r for r in records if r.action == "models.promote"]
    assert started and all((r.actor, r.summary["periodic_every_s"], r.summary["promote"]) == ("server", 0.2, "if_better")
                           for r in started)
    assert all(r.address.startswith("server@") for r in started)
    assert promoted.actor == "server" and promoted.summary["job"] in {r.target for r in started}
    assert promoted.summary["by"] == "train job" and promoted.seq > min(r.seq for r in started)


def test_while_another_node_holds_the_training_lease_a_train_is_409_naming_it(seeded, settings):
    from tastemaker.storage.local.lease import LocalLease

    other = LocalLease(settings.data_dir, "train", owner="node-b:4242")  # another worker on this data dir
    assert other.acquire()
    try:
        body = assert_problem(seeded.post("/v1/models/train", json={"family": "popularity"}), 409)
        assert body["title"] == "Training runs on another node" and "node-b:4242" in body["detail"]
        assert seeded.get("/v1/models/train/jobs").json() == {"jobs": []}  # refused before any job existed
    finally:
        other.release()
    done = train(seeded, {"family": "popularity", "promote": "never"})  # free again: this node trains
    assert done["status"] == "succeeded"
    deadline = time.monotonic() + JOB_WAIT_S  # its follower lets go once the worker's future resolved
    while not other.acquire():  # the job's end gives the lease back
        assert time.monotonic() < deadline, f"the lease is still held by {other.holder()}"
        time.sleep(JOB_POLL_S)
    other.release()


def test_periodic_retraining_waits_while_another_node_trains_then_trains(settings, monkeypatch, caplog):
    import logging

    from tastemaker.api import models
    from tastemaker.storage.local.lease import LocalLease

    monkeypatch.setattr(models, "LEASE_RETRY_S", 0.05)
    other = LocalLease(settings.data_dir, "train", owner="node-b:4242")
    assert other.acquire()
    settings.retrain_every_s = 0.05
    caplog.set_level(logging.INFO, logger="tastemaker.api.models")
    with TestClient(build_app(Engine(settings)), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        seed(client)
        deadline = time.monotonic() + JOB_WAIT_S
        try:
            while sum("periodic retraining waits" in r.getMessage() and "node-b:4242" in r.getMessage()
                      for r in caplog.records) < 3:  # refused three times, naming the holder
                assert time.monotonic() < deadline, "periodic retraining never asked for the lease"
                time.sleep(JOB_POLL_S)
            assert client.get("/v1/models/train/jobs").json() == {"jobs": []}  # it waited: no job
        finally:
            other.release()
        while not [j for j in client.get("/v1/models/train/jobs").json()["jobs"] if j["status"] == "succeeded"]:
            assert time.monotonic() < deadline, "periodic retraining did not train once the lease was free"
            time.sleep(JOB_POLL_S)


def test_on_a_distributed_deployment_one_worker_trains_and_the_other_serves_the_new_version(tmp_path):
    from tastemaker.training.leases import TRAIN, node_name
    from tests.storage.deployments import distributed_settings, drop_deployment, require_services

    require_services()
    settings = distributed_settings(tmp_path)
    other = distributed_settings(tmp_path)  # the same services, another worker's own data dir
    other.postgres_url, other.nats_stream, other.nats_subject_prefix, other.redis_prefix = (
        settings.postgres_url, settings.nats_stream, settings.nats_subject_prefix, settings.redis_prefix)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        with TestClient(build_app(Engine(settings)), headers=headers) as a, \
                TestClient(build_app(Engine(other)), headers=headers) as b:
            seed(a)
            lease = b.app.state.engine.leases[TRAIN]
            lease.hold()  # worker b trains (its hold is in Redis): worker a is refused, naming it
            try:
                body = assert_problem(a.post("/v1/models/train", json={"family": "popularity"}), 409)
                assert node_name() in body["detail"]
            finally:
                lease.let_go()
            job = train(a, {"family": "popularity", "promote": "always"})
            version = job["result"]["version"]["version"]
            deadline = time.monotonic() + JOB_WAIT_S  # b asks the registry every second, on a request
            while b.get("/v1/models").json()["serving"] != version:
                assert b.get("/v1/recommendations", params={"user_id": "base-0-0"}).status_code == 200
                assert time.monotonic() < deadline, "worker b never swapped the new version in"
                time.sleep(JOB_POLL_S)
            assert b.app.state.engine.recommender.model.version == str(version)
    finally:
        drop_deployment(settings)
