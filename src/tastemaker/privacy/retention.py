"""Retention: events older than their type's limit leave every store, and online state
becomes a fold of what is left.

A policy is ``{event type: days}`` with ``*`` for every other type (Settings.retention,
``TASTEMAKER_RETENTION="view=90d,search=30d,*=730d"``). :meth:`Retainer.run`:

1. deletes the expired events from the log (API rows, bulk-import segments, the id index:
   ``EventLog.expire``) and logged impressions older than their own limit
   (``Settings.impression_retention_days``);
2. rebuilds online state from the retained log in this (worker) thread and swaps it in on
   the state's own thread, between two batches, after folding what arrived meanwhile
   (features.rebuild: un-counting a time cut exactly is not possible);
3. writes a new snapshot (the old one still held the expired events), then reclaims the
   database space (WAL checkpoint, VACUUM) so no file still holds a deleted row.

An erasure running at the same time changes the same aggregates by subtraction; the swap
waits until none ran during the rebuild and rebuilds again otherwise. A marker artifact
written before the delete and removed after the snapshot makes a run interrupted between
the two rebuild on the next run even when nothing is left to delete. Jobs are listed with
the erasure jobs (``GET /v1/privacy/jobs``); they carry counts per type, never ids.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tastemaker.features import rebuild
from tastemaker.features.state import OnlineState
from tastemaker.storage.factory import Stores

log = logging.getLogger(__name__)
DAY_S = 86_400.0
PENDING_KEY = "retention.pending"
SWAP_GAP = 20_000  # rows left to fold on the state's own thread at the swap, at most (~0.1 s)
SWAP_TRIES = 5
JOBS_KEPT = 100


@dataclass
class RetentionJob:
    """One application of the policy, as ``GET /v1/privacy/jobs/{id}`` shows it."""

    id: str
    dry_run: bool
    cutoffs: dict[str, float]  # event type ('*': the others) -> epoch seconds; older is deleted
    kind: str = "retention"
    status: str = "running"  # running | done | failed
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    steps: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def cutoffs(policy: dict[str, float], now: float) -> dict[str, float]:
    """``{type: epoch seconds}`` for a policy in days at ``now``.

    >>> cutoffs({"view": 1.0, "*": 2.0}, 200_000.0)
    {'view': 113600.0, '*': 27200.0}
    """
    return {name: now - days * DAY_S for name, days in policy.items()}


class Retainer:
    """Applies a retention policy to ``stores`` and ``state``.

    ``on_state(fn)`` runs ``fn()`` on the state's own thread (a server: its event loop,
    under the ingest apply lock); ``snapshot()`` writes a state snapshot; ``after_swap()``
    drops caches that hold the replaced state; ``erasing_since(t)`` says whether an erasure
    ran at any time after ``t`` (the swap then waits and rebuilds).
    """

    def __init__(self, stores: Stores, state: OnlineState, policy: dict[str, float], *,
                 impression_retention_s: float = 0.0,
                 on_state: Callable[[Callable[[], Any]], Any] = lambda fn: fn(),
                 snapshot: Callable[[], None] = lambda: None, after_swap: Callable[[], None] = lambda: None,
                 erasing_since: Callable[[float], bool] = lambda t: False):
        self.stores = stores
        self.state = state
        self.policy = dict(policy)
        self.impression_retention_s = impression_retention_s
        self.on_state = on_state
        self.snapshot = snapshot
        self.after_swap = after_swap
        self.erasing_since = erasing_since
        self.jobs: dict[str, RetentionJob] = {}
        self._one_at_a_time = threading.Lock()

    def begin(self, dry_run: bool, now: float | None = None) -> RetentionJob:
        now = time.time() if now is None else now
        job = RetentionJob(secrets.token_hex(8), dry_run, cutoffs(self.policy, now))
        if self.impression_retention_s > 0:
            job.cutoffs["impressions"] = now - self.impression_retention_s
        if len(self.jobs) >= JOBS_KEPT:
            for old in sorted(self.jobs.values(), key=lambda j: j.created_at)[: JOBS_KEPT // 2]:
                if old.status != "running":
                    self.jobs.pop(old.id, None)
        self.jobs[job.id] = job
        return job

    def run(self, job: RetentionJob) -> RetentionJob:
        """Delete, rebuild and swap, snapshot, reclaim (see the module docstring)."""
        started = time.perf_counter()
        steps = job.steps

        def step(name: str, value: Any) -> None:
            steps[name] = value
            steps[f"{name}_s"] = round(time.perf_counter() - started, 3)

        try:
            with self._one_at_a_time:
                events = {k: v for k, v in job.cutoffs.items() if k not in ("*", "impressions")}
                pending = self.stores.artifacts.stamp(PENDING_KEY) is not None
                if not job.dry_run and (self.policy or pending):
                    self.stores.artifacts.put(PENDING_KEY, b"1")  # a crash before the snapshot rebuilds next time
                deleted = self.stores.events.expire(events, job.cutoffs.get("*"), dry_run=job.dry_run) \
                    if self.policy else {}
                step("events_deleted" if not job.dry_run else "events_expired", deleted)
                impressions = self.stores.impressions
                if "impressions" in job.cutoffs and impressions is not None and not job.dry_run:
                    step("impressions_deleted", impressions.delete_before(job.cutoffs["impressions"]))
                if not job.dry_run and (sum(deleted.values()) or pending):
                    step("state_rows_folded", self._rebuild(steps))
                    self.on_state(self.snapshot)
                    step("snapshot", True)
                    self.stores.artifacts.delete(PENDING_KEY)
                    self.stores.reclaim()
                    step("space_reclaimed", True)
                elif not job.dry_run:
                    self.stores.artifacts.delete(PENDING_KEY)
            job.status = "done"
        except Exception as exc:  # the job reports it; a rerun resumes (the pending marker forces the rebuild)
            log.exception("retention job %s failed", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        job.finished_at = time.time()
        return job

    def _rebuild(self, steps: dict[str, Any]) -> int:
        """Fold the retained log into a new state here, swap it in on the state's thread."""
        read = self.stores.events.read_rows_since
        for attempt in range(1, SWAP_TRIES + 1):
            since = time.time()
            while self.erasing_since(since):  # let a running erasure finish first
                time.sleep(0.05)
                since = time.time()
            fresh = rebuild.start(self.state)
            folded = rebuild.fold(fresh, read, self.state.applied_seq)
            fresh.covisitation.prune()  # serve from one pre-cut matrix, as after a restart's replay
            while self.state.applied_seq - fresh.applied_seq > SWAP_GAP:  # what arrived meanwhile
                folded += rebuild.fold(fresh, read, self.state.applied_seq)

            def swap() -> int | None:
                if self.erasing_since(since):
                    return None  # an erasure subtracted from the live state meanwhile: fold again
                n = rebuild.install(self.state, fresh, read)
                self.after_swap()
                return n

            at_swap = self.on_state(swap)
            if at_swap is not None:
                steps["rebuild_attempts"] = attempt
                steps["rows_folded_at_swap"] = at_swap
                return folded + at_swap
        raise RuntimeError(f"erasures kept running during {SWAP_TRIES} rebuilds; the next run retries")

