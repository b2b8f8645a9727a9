"""Training as a job resource: one JSON document per run in the deployment's artifact store.

``POST /v1/models/train`` creates a job (``queued``); the worker process that trains marks it
``running``, rewrites it as :func:`~tastemaker.training.job.train` reports its stages, and ends
it ``succeeded`` (with the result) or ``failed`` (with an error title and detail). Documents
live under ``jobs/train/<id>.json`` in ``stores.artifacts``, which every process of a
deployment shares, so any server process (or an operator's script) reads the same state.

A job records the process that owns it (the server while queued, the worker while running)
and a heartbeat the worker refreshes while it trains. One whose heartbeat is older than
:data:`STALE_AFTER_S` and whose process is gone (killed, the machine restarted) reads as
``failed`` ("worker stopped"), so no job stays "running" forever.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec

from tastemaker.storage.protocols import ArtifactStore
from tastemaker.training.steps import STAGES, Progress, Step

PREFIX = "jobs/train/"
KEEP = 200  # job documents kept; older finished ones are deleted when a job is created
LIST_LIMIT = 50  # jobs listed by default, newest first
WRITE_EVERY_S = 0.5  # progress writes at most this often (a stage change and the end always write)
HEARTBEAT_S = 10.0  # the worker rewrites its job at least this often while it trains
STALE_AFTER_S = 120.0  # generous: a dozen missed heartbeats before a job can read as abandoned
FINAL = ("succeeded", "failed")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ID_RULE = "a job id is 1-64 of A-Z, a-z, 0-9, '-' and '_'"

log = logging.getLogger(__name__)


class TrainJob(msgspec.Struct, kw_only=True):
    """One training run as stored. :meth:`public` is what the API answers."""

    id: str
    created_at: float
    status: str = "queued"  # queued | running | succeeded | failed
    stage: str | None = None
    stage_number: int = 0
    stages: int = len(STAGES)
    message: str = ""
    progress: float = 0.0  # 0..1, never decreases
    started_at: float | None = None
    finished_at: float | None = None
    request: dict[str, Any] = msgspec.field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    # bookkeeping, not in the public body: who owns the job and when it last said so
    host: str = ""
    pid: int = 0
    heartbeat_at: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def public(self) -> dict[str, Any]:
        """The job resource of the API (without the owner and heartbeat bookkeeping)."""
        out = msgspec.to_builtins(self)
        for name in ("host", "pid", "heartbeat_at"):
            out.pop(name)
        return out


def valid_job_id(job_id: str) -> bool:
    """Whether ``job_id`` may name a job (ids are opaque, but only of these characters).

    >>> valid_job_id("019a3f5c2e11-4be0c1d2"), valid_job_id("../etc"), valid_job_id("")
    (True, False, False)
    """
    return _ID.fullmatch(job_id) is not None


def new_job_id(now: float) -> str:
    """Milliseconds in hex, then random: ids sort in creation order, so keys list newest last."""
    return f"{int(now * 1000):012x}-{secrets.token_hex(4)}"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def error_of(exc: BaseException) -> dict[str, str]:
    """A failed job's ``error``: a refusal of the data (ValueError) reads as such, anything else
    names the exception type."""
    if isinstance(exc, ValueError):
        return {"title": "Cannot train", "detail": str(exc)}
    return {"title": "Training failed", "detail": f"{type(exc).__name__}: {exc}"}


class TrainJobs:
    """The job documents of one deployment (``artifacts`` is ``stores.artifacts``).

    ``host``, ``pid`` and ``clock`` default to this process and ``time.time`` (tests pass others).
    """

    def __init__(self, artifacts: ArtifactStore, *, host: str | None = None, pid: int | None = None,
                 clock: Callable[[], float] = time.time):
        self.artifacts = artifacts
        self.host = host if host is not None else socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()
        self.clock = clock

    # -- reading --------------------------------------------------------------------------

    def get(self, job_id: str) -> TrainJob | None:
        """The job, or None (unknown, or its document is unreadable); an abandoned job reads as failed."""
        job = self._read(job_id)
        return None if job is None else self._checked(job)

    def list(self, limit: int = LIST_LIMIT) -> list[TrainJob]:
        """The newest ``limit`` jobs, newest first."""
        out = []
        for key in reversed(self.artifacts.list(PREFIX)):
            job = self.get(key[len(PREFIX):-len(".json")]) if key.endswith(".json") else None
            if job is not None:
                out.append(job)
                if len(out) >= limit:
                    break
        return out

    def abandoned(self, job: TrainJob) -> bool:
        """Unfinished, silent for :data:`STALE_AFTER_S`, and its process is gone.

        On this machine the pid says whether the process is gone; on another one only a
        running job's heartbeat (kept fresh by its worker) can say it, so a job queued on
        another machine is left as it is.
        """
        if job.finished or self.clock() - job.heartbeat_at < STALE_AFTER_S:
            return False
        if job.host == self.host:
            return not pid_alive(job.pid)
        return job.status == "running"

    def _checked(self, job: TrainJob) -> TrainJob:
        if not self.abandoned(job):
            return job
        return msgspec.structs.replace(job, status="failed", finished_at=job.heartbeat_at, error={
            "title": "Worker stopped",
            "detail": f"the process that was {'training' if job.status == 'running' else 'to train'} this job "
                      f"(pid {job.pid} on {job.host}) stopped before it finished"})

    def _read(self, job_id: str) -> TrainJob | None:
        if not valid_job_id(job_id):
            return None
        raw = self.artifacts.get(f"{PREFIX}{job_id}.json")
        if raw is None:
            return None
        try:
            return msgspec.json.decode(raw, type=TrainJob)
        except msgspec.DecodeError:
            log.warning("unreadable train job document %s", job_id)
            return None

    # -- writing --------------------------------------------------------------------------

    def save(self, job: TrainJob) -> None:
        self.artifacts.put(f"{PREFIX}{job.id}.json", msgspec.json.encode(job))

    def create(self, request: dict[str, Any]) -> TrainJob:
        """A new ``queued`` job owned by this process; old finished jobs beyond :data:`KEEP` go."""
        now = self.clock()
        job = TrainJob(id=new_job_id(now), created_at=now, request=request, host=self.host, pid=self.pid,
                       heartbeat_at=now)
        self.save(job)
        self.prune()
        return job

    def prune(self, keep: int = KEEP) -> int:
        """Delete the oldest job documents beyond ``keep`` (an unfinished one stays); returns how many."""
        keys = self.artifacts.list(PREFIX)
        deleted = 0
        for key in keys[:max(0, len(keys) - keep)]:
            job = self.get(key[len(PREFIX):-len(".json")]) if key.endswith(".json") else None
            if job is None or job.finished:
                deleted += self.artifacts.delete(key)
        return deleted

    def fail_unfinished(self, job_id: str, title: str, detail: str) -> TrainJob | None:
        """End the job as failed unless it already ended (the server's word when the worker could not say it)."""
        job = self._read(job_id)
        if job is None or job.finished:
            return job
        job = msgspec.structs.replace(job, status="failed", finished_at=self.clock(), error={"title": title, "detail": detail})
        self.save(job)
        return job

    def run(self, job_id: str, work: Callable[[Progress], dict[str, Any]]) -> dict[str, Any]:
        """In the worker: mark the job running, call ``work(progress)``, record how it ended.

        ``work`` returns the result (``TrainResult.to_dict()``); any exception ends the job as
        ``failed`` with :func:`error_of` (never re-raised: the job document is the answer).
        Returns the final job's public body.
        """
        now = self.clock()
        job = self._read(job_id) or TrainJob(id=job_id, created_at=now)
        job = msgspec.structs.replace(job, status="running", started_at=now, host=self.host, pid=self.pid,
                                      heartbeat_at=now)
        self.save(job)
        reporter = JobProgress(self, job)
        try:
            with reporter:
                result = work(reporter)
        except Exception as exc:
            if not isinstance(exc, ValueError):  # a refusal of the data is no bug: no traceback
                log.exception("train job %s failed", job_id)
            final = msgspec.structs.replace(reporter.job, status="failed", error=error_of(exc))
        else:
            final = msgspec.structs.replace(reporter.job, status="succeeded", progress=1.0, result=result)
        final = msgspec.structs.replace(final, finished_at=self.clock(), heartbeat_at=self.clock())
        self.save(final)
        return final.public()


class JobProgress:
    """The ``progress`` callback of a job's training run: :class:`Step` reports become job writes.

    A stage change writes at once; other reports at most every :data:`WRITE_EVERY_S` (the
    latest one is written by the ticker thread if nothing follows it); the ticker also
    rewrites the job every :data:`HEARTBEAT_S` as the heartbeat. A failed write (a full disk)
    is logged and never stops the training.
    """

    def __init__(self, jobs: TrainJobs, job: TrainJob, every_s: float = WRITE_EVERY_S,
                 heartbeat_s: float = HEARTBEAT_S):
        self.jobs, self.job = jobs, job
        self.every_s, self.heartbeat_s = every_s, heartbeat_s
        self._lock = threading.Lock()
        self._dirty = False
        self._written = jobs.clock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name=f"train-job-{job.id}", daemon=True)

    def __enter__(self) -> "JobProgress":
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._ticker.join()

    def __call__(self, step: Step) -> None:
        with self._lock:
            new_stage = step.stage != self.job.stage or step.number != self.job.stage_number
            self.job = msgspec.structs.replace(
                self.job, stage=step.stage, stage_number=step.number, stages=step.total, message=step.message,
                progress=max(self.job.progress, (step.number - 1) / max(step.total, 1)))
            self._dirty = True
            if new_stage or self.jobs.clock() - self._written >= self.every_s:
                self._write()

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            with self._lock:
                since = self.jobs.clock() - self._written
                if (self._dirty and since >= self.every_s) or since >= self.heartbeat_s:
                    self._write()

    def _write(self) -> None:
        now = self.jobs.clock()
        self.job = msgspec.structs.replace(self.job, heartbeat_at=now)
        try:
            self.jobs.save(self.job)
        except OSError:
            log.warning("could not write the progress of train job %s", self.job.id, exc_info=True)
        self._written, self._dirty = now, False
