"""training.train_jobs: job documents in the artifact store, the worker's run, progress writes,
abandoned jobs, pruning; run_train_job as a job on real stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tastemaker.config import Settings
from tastemaker.schema.records import Event
from tastemaker.storage.factory import open_stores
from tastemaker.storage.local.artifacts import LocalArtifactStore
from tastemaker.training import train_jobs as tj
from tastemaker.training.job import Step, run_train_job
from tastemaker.training.model_registry import ModelRegistry
from tastemaker.training.train_jobs import PREFIX, STALE_AFTER_S, TrainJobs, valid_job_id

WAIT_S = 60.0  # a cap for a hung thread, never the expected time


class Clock:
    """A clock the test moves by hand (throttling and staleness decide on it)."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recording(LocalArtifactStore):
    """A local store that remembers every job document written, and signals each write."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.writes: list[dict] = []
        self.written = threading.Event()

    def put(self, key: str, data: bytes) -> None:
        super().put(key, data)
        if key.startswith(PREFIX):
            self.writes.append(json.loads(data))
            self.written.set()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Recording:
    return Recording(tmp_path / "artifacts")


@pytest.fixture
def jobs(store: Recording, clock: Clock) -> TrainJobs:
    return TrainJobs(store, clock=clock)


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_new_job_is_queued_owned_by_this_process_and_stored_under_jobs_train(jobs, store):
    job = jobs.create({"family": "popularity", "params": {}, "promote": "never"})
    assert valid_job_id(job.id)
    assert store.list(PREFIX) == [f"jobs/train/{job.id}.json"]
    assert (job.status, job.pid, job.progress) == ("queued", os.getpid(), 0.0)
    assert jobs.get(job.id) == job
    public = job.public()
    assert {"host", "pid", "heartbeat_at"}.isdisjoint(public)
    assert public["request"] == {"family": "popularity", "params": {}, "promote": "never"}


def test_a_run_records_stages_then_success(jobs, store, clock):
    job = jobs.create({})

    def work(progress):
        assert jobs.get(job.id).status == "running"
        for number, stage in enumerate(("snapshot", "interactions", "fit"), start=1):
            progress(Step(stage, f"{stage} begins", True, number, 3))
            progress(Step(stage, f"{stage} goes on", False, number, 3))  # within 0.5 s of the last write
        return {"version": {"version": 7}, "promoted": True}

    final = jobs.run(job.id, work)
    assert final["status"] == "succeeded" and final["progress"] == 1.0
    assert final["result"] == {"version": {"version": 7}, "promoted": True}
    assert final["stage"] == "fit" and final["stage_number"] == final["stages"] == 3
    assert final["message"] == "fit goes on"  # the final write carries what was not written yet
    # queued, running, one write per stage change (the clock never moved: no other), the end
    assert [w["status"] for w in store.writes] == ["queued", "running", "running", "running", "running", "succeeded"]
    assert [w["message"] for w in store.writes[2:5]] == ["snapshot begins", "interactions begins", "fit begins"]
    progress = [w["progress"] for w in store.writes]
    assert progress == sorted(progress) == [0.0, 0.0, 0.0, 1 / 3, 2 / 3, 1.0]
    assert jobs.get(job.id).public() == final


def test_reports_within_a_stage_are_written_at_most_every_half_second(jobs, store, clock):
    job = jobs.create({})

    def work(progress):
        progress(Step("fit", "begins", True, 1, 1))
        clock.now += 0.1
        progress(Step("fit", "member 1", False, 1, 1))  # too soon: not written
        clock.now += 0.5
        progress(Step("fit", "member 2", False, 1, 1))  # 0.6 s after the last write: written
        return {}

    jobs.run(job.id, work)
    assert [w["message"] for w in store.writes if w["status"] == "running"] == ["", "begins", "member 2"]


@pytest.mark.parametrize("exc, error", [
    (ValueError("the event log is empty: nothing to train on"),
     {"title": "Cannot train", "detail": "the event log is empty: nothing to train on"}),
    (RuntimeError("boom"), {"title": "Training failed", "detail": "RuntimeError: boom"}),
])
def test_a_failing_run_ends_failed_with_the_error_never_running(jobs, exc, error):
    job = jobs.create({})

    def work(progress):
        progress(Step("snapshot", "reading the event log", True, 1, 5))
        raise exc

    final = jobs.run(job.id, work)  # the job is the answer: nothing is raised
    assert final["status"] == "failed" and final["error"] == error
    assert final["stage"] == "snapshot" and final["result"] is None and final["finished_at"] is not None
    assert jobs.get(job.id).status == "failed"


def test_the_ticker_writes_a_pending_report_and_a_heartbeat(jobs, store, clock):
    job = jobs.create({})
    reporter = tj.JobProgress(jobs, jobs.get(job.id), every_s=0.01, heartbeat_s=5.0)
    with reporter:
        reporter(Step("fit", "begins", True, 1, 1))
        store.written.clear()
        reporter(Step("fit", "member 1", False, 1, 1))  # too soon for the call to write it
        assert not store.written.is_set()
        clock.now += 1.0  # the ticker writes it once its time has come
        assert store.written.wait(WAIT_S)
        assert store.writes[-1]["message"] == "member 1"
        store.written.clear()
        clock.now += 5.0  # nothing new, but a heartbeat is due
        assert store.written.wait(WAIT_S)
        assert store.writes[-1]["heartbeat_at"] == clock.now


def test_a_job_whose_process_is_gone_reads_as_failed(jobs, store, clock):
    job = jobs.create({})
    running = tj.msgspec.structs.replace(job, status="running", pid=_dead_pid(), heartbeat_at=clock.now)
    jobs.save(running)
    assert jobs.get(job.id).status == "running"  # a fresh heartbeat: not yet
    clock.now += STALE_AFTER_S + 1
    stopped = jobs.get(job.id)
    assert stopped.status == "failed" and stopped.error["title"] == "Worker stopped"
    assert f"pid {running.pid}" in stopped.error["detail"]
    assert [j.status for j in jobs.list()] == ["failed"]

    jobs.save(tj.msgspec.structs.replace(running, pid=os.getpid()))  # silent, but its process lives
    assert jobs.get(job.id).status == "running"


def test_on_another_machine_only_a_running_jobs_heartbeat_counts(jobs, clock):
    job = jobs.create({})
    elsewhere = tj.msgspec.structs.replace(job, host="another-host", pid=os.getpid())
    jobs.save(elsewhere)
    clock.now += STALE_AFTER_S + 1
    assert jobs.get(job.id).status == "queued"  # its server may well be alive: nothing says otherwise
    jobs.save(tj.msgspec.structs.replace(elsewhere, status="running"))
    assert jobs.get(job.id).status == "failed"


def test_jobs_list_newest_first_and_old_finished_ones_are_pruned(jobs, clock):
    ids = []
    for k in range(6):
        clock.now += 1
        job = jobs.create({"k": k})
        if k > 0:  # the oldest stays unfinished
            jobs.save(tj.msgspec.structs.replace(job, status="succeeded"))
        ids.append(job.id)
    assert [j.id for j in jobs.list()] == ids[::-1]
    assert [j.id for j in jobs.list(limit=2)] == ids[:-3:-1]
    assert jobs.prune(keep=3) == 2  # the two oldest finished ones; the unfinished one stays
    assert [j.id for j in jobs.list()] == [ids[5], ids[4], ids[3], ids[0]]


def test_ids_are_checked_before_any_key_is_made(jobs):
    assert jobs.get("../../etc/passwd") is None and jobs.get("") is None
    assert not valid_job_id("a.b") and not valid_job_id("x" * 65) and valid_job_id("x" * 64)


def test_another_process_reads_the_job_documents(jobs, store):
    job = jobs.create({"family": "popularity"})
    code = ("import sys, json; from tastemaker.storage.local.artifacts import LocalArtifactStore; "
            "from tastemaker.training.train_jobs import TrainJobs; "
            "print(json.dumps(TrainJobs(LocalArtifactStore(sys.argv[1])).get(sys.argv[2]).public()))")
    out = subprocess.run([sys.executable, "-c", code, str(store.root), job.id], capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout) == job.public()


def test_run_train_job_as_a_job_on_real_stores(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", durable=False)
    with open_stores(settings) as stores:
        empty = TrainJobs(stores.artifacts).create({"family": "popularity"})
    final = run_train_job(settings, "popularity", {}, "always", job_id=empty.id)
    assert final["status"] == "failed" and final["error"]["detail"] == "the event log is empty: nothing to train on"

    with open_stores(settings) as stores:
        stores.events.append([Event(id=f"e{k}", type="view", user_id=f"u{k % 5}", item_id=f"i{k % 7}",
                              timestamp=1.7e9 + k) for k in range(60)])
        job = TrainJobs(stores.artifacts).create({"family": "popularity"})
    final = run_train_job(settings, "popularity", {}, "always", job_id=job.id)
    assert final["status"] == "succeeded" and final["progress"] == 1.0, final
    with open_stores(settings) as stores:
        version = final["result"]["version"]["version"]
        assert ModelRegistry(stores.models, stores.artifacts).load(version).family == "popularity"
        assert TrainJobs(stores.artifacts).get(job.id).public() == final
