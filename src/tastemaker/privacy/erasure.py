"""Erasure of one user, everywhere (GDPR Art. 17): the fast part at once, the rest as a job.

:meth:`Eraser.begin` (in the request) writes the tombstone, so ingest refuses the id from
then on, and drops the user's online state, so the very next recommendation for the id is
a new user's. :meth:`Eraser.run` (a background thread in the server, inline in the CLI)
then does the heavy part, in an order that never leaves a half-erased state visible:

1. read the user's events from the log (a scan: rows and bulk-import segments);
2. fold them into a scratch state and subtract it from the live aggregates (on the state's
   own thread: ``on_state``), so co-visitation and popularity equal a rebuild without them;
3. delete their events, impressions, profile row and keys from the stores;
4. write a new state snapshot (the old file is replaced atomically);
5. reclaim the database space (WAL checkpoint, VACUUM, WAL truncated), so no file still
   holds a deleted row;
6. look for the id in every artifact (model artifacts hold item ids only: models fold
   users in at request time) and report any hit, and count the audit records that name
   the user (consent changes: kept, see the README's privacy section).

A job is known by a random id and the user's keyed digest, never the id: listing jobs does
not name whom they erased. Jobs live in memory (a restart forgets finished ones; the audit
log keeps the erasure, by digest).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tastemaker.features import erasure as state_erasure
from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState
from tastemaker.privacy.scan import needles
from tastemaker.privacy.tombstones import Tombstones
from tastemaker.storage.factory import Stores

log = logging.getLogger(__name__)
JOBS_KEPT = 1000  # finished jobs remembered in memory, oldest dropped first


@dataclass
class ErasureJob:
    """One erasure's progress, as ``GET /v1/privacy/jobs/{id}`` shows it."""

    id: str
    subject: str  # the keyed digest of the user id (privacy.tombstones), never the id
    status: str = "running"  # running | done | failed
    created_at: float = field(default_factory=time.time)
    served_at: float | None = None  # when serving stopped personalising (begin)
    finished_at: float | None = None
    steps: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Eraser:
    """Erases users from ``stores`` and ``state``.

    ``on_state(fn)`` runs ``fn()`` where the online state may change (the server: on its
    event loop, under the apply lock) and returns its result; ``snapshot()`` writes a new
    state snapshot (run through ``on_state``); ``forget_caches(user)`` drops the serving
    caches that hold the user's dropped state; ``flush()`` writes buffered impressions.
    """

    def __init__(self, stores: Stores, state: OnlineState, tombstones: Tombstones, *,
                 on_state: Callable[[Callable[[], Any]], Any] = lambda fn: fn(),
                 snapshot: Callable[[], None] = lambda: None, snapshot_key: str | None = None,
                 forget_caches: Callable[[UserState], None] = lambda user: None,
                 flush: Callable[[], int] = lambda: 0):
        self.stores = stores
        self.state = state
        self.tombstones = tombstones
        self.on_state = on_state
        self.snapshot = snapshot
        self.snapshot_key = snapshot_key
        self.forget_caches = forget_caches
        self.flush = flush  # writes buffered impressions (those served before the tombstone), to delete them
        self.jobs: dict[str, ErasureJob] = {}
        self._seq_at_begin: dict[str, int] = {}
        self._lock = threading.Lock()

    def begin(self, user_id: str) -> ErasureJob:
        """Tombstone the id and stop personalising for it; call on the state's own thread."""
        job = ErasureJob(secrets.token_hex(8), self.tombstones.digest(user_id))
        self.tombstones.add(user_id)
        dropped = state_erasure.forget_user(self.state, user_id)
        if dropped is not None:
            self.forget_caches(dropped)
        job.served_at = time.time()
        self._seq_at_begin[job.id] = self.state.applied_seq  # later events of theirs are skipped
        with self._lock:
            if len(self.jobs) >= JOBS_KEPT:
                done = [j for j in self.jobs.values() if j.status != "running"]
                for old in sorted(done, key=lambda j: j.created_at)[: len(done) // 2 or 1]:
                    self.jobs.pop(old.id, None)
            self.jobs[job.id] = job
        return job

    def run(self, job: ErasureJob, user_id: str) -> ErasureJob:
        """The heavy part (see the module docstring); records each step's figures in ``job``."""
        steps = job.steps
        started = time.perf_counter()
        held = [0.0]  # seconds the state's own thread (a server's event loop) spent on this job

        def on_state(fn: Callable[[], Any]) -> Any:
            t = time.perf_counter()
            try:
                return self.on_state(fn)
            finally:
                held[0] += time.perf_counter() - t

        def step(name: str, value: Any) -> None:
            steps[name] = value
            steps[f"{name}_s"] = round(time.perf_counter() - started, 3)

        try:
            upto = self._seq_at_begin.pop(job.id, self.state.applied_seq)
            kept_out = self._held(user_id)  # quarantined events were never folded: nothing of theirs to uncount
            rows = [r for r in self.stores.events.user_rows(user_id) if r[0] <= upto and r[0] not in kept_out]
            step("events_found", len(rows))
            scratch = state_erasure.contribution(self.state, rows)
            del rows
            on_state(lambda: state_erasure.uncount(self.state, scratch))
            step("aggregates_uncounted", True)
            step("events", self.stores.events.erase_user(user_id))
            self.flush()
            step("impressions", self.stores.impressions.erase_user(user_id) if self.stores.impressions else 0)
            step("profile", self.stores.users.erase_user(user_id))
            step("keys", self.stores.keys.erase_user(user_id))
            step("quarantine", self.stores.quarantine.erase_user(user_id) if self.stores.quarantine else 0)
            on_state(lambda: state_erasure.finish(self.state, user_id, scratch))
            on_state(self.snapshot)
            step("snapshot", self.snapshot_key is not None)
            self.stores.reclaim()
            step("space_reclaimed", True)
            step("artifacts_holding_id", self._artifacts_holding(user_id))
            # consent.change records name the user: the audit log is append-only and hash-chained,
            # kept as the legal record of consent (GDPR Art. 17(3)(b), 7(1)); reported, not erased
            audit = self.stores.audit
            step("audit_records_kept", len(audit.read(limit=1000, target=user_id)) if audit is not None else 0)
            steps["state_thread_s"] = round(held[0], 3)
            job.status = "done"
        except Exception as exc:  # the job reports it; a rerun of the erasure resumes (every step is idempotent)
            log.exception("erasure job %s failed", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        job.finished_at = time.time()
        return job

    def _held(self, user_id: str) -> set[int]:
        """Seqs of the user's events the quarantine keeps out of the state (held or confirmed)."""
        store = self.stores.quarantine
        if store is None:
            return set()
        return {r.seq for r in store.list(user_id=user_id, limit=1 << 40) if r.status != "released"}

    def _artifacts_holding(self, user_id: str) -> list[str]:
        """Artifact keys whose bytes contain the id or its unkeyed digests (expected: none)."""
        patterns = list(needles(user_id).values())
        hits = []
        for key in self.stores.artifacts.list():
            fh = self.stores.artifacts.open(key)
            if fh is None:
                continue
            with fh:
                data = fh.read()
            if any(p in data for p in patterns):
                hits.append(key)
        if hits:
            log.warning("erasure: %d artifacts still hold the erased id; retrain or delete them", len(hits))
        return hits

    def erase(self, user_id: str) -> ErasureJob:
        """Both parts, one after the other (the CLI; tests)."""
        return self.run(self.begin(user_id), user_id)
