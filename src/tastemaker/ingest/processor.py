"""The stream processor: keeps OnlineState caught up with the event log and the catalog.

In the embedded default it runs in the server process: the ingest path applies its own
events directly, and before answering a read the server calls :meth:`catch_up`, which
costs one ``PRAGMA`` when nobody else wrote, so events written by another worker or by an
import are seen by the very next request.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable, Iterator

import msgspec

from tastemaker.features.guard import Guard
from tastemaker.features.quarantine import hold, unfold
from tastemaker.features.state import OnlineState, StateConfig
from tastemaker.heap import note_applied
from tastemaker.schema.records import Event
from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import QuarantineRecord

log = logging.getLogger(__name__)
_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_obj = msgspec.json.Decoder(dict).decode
REPLAY_CHUNK = 100_000
REPRUNE_STALE_SHARE = 0.1


class StreamProcessor:
    def __init__(self, stores: Stores, state: OnlineState, snapshot_key: str | None = None, snapshot_every: int = 200_000):
        self.stores = stores
        self.state = state
        self.snapshot_key = snapshot_key  # in the artifact store; None: no snapshots
        self.snapshot_every = snapshot_every
        self._last_snapshot_seq = state.applied_seq
        self._child: int | None = None  # pid of a background snapshot writer
        # Batches this process appended and has not finished applying (see catch_up).
        self.local_writes_in_flight = 0
        # A follower (ingest.follower) pushes the shared log into the state: reads skip the check.
        self.followed = False
        # Opens an artifact store of its own in a forked snapshot writer: a server store's
        # connections belong to the parent (None: the parent's store, files are fork-safe).
        self.fork_artifacts: Callable[[], object] | None = None
        # Bot/shilling/anomaly scoring of the events this process appends (features.guard);
        # None: every event is folded. Replayed rows follow the persisted flags either way.
        self.guard: Guard | None = None

    @classmethod
    def open(cls, stores: Stores, snapshot_key: str | None, config: StateConfig | None = None,
             progress: Callable[[int, int], None] | None = None, snapshot_every: int = 200_000) -> StreamProcessor:
        """Restore state: the latest snapshot (if any), then everything logged after it."""
        state = OnlineState.load(stores.artifacts, snapshot_key) if snapshot_key else None
        if state is None:
            state = OnlineState(config or StateConfig())
        processor = cls(stores, state, snapshot_key, snapshot_every)
        started = time.perf_counter()
        replayed = processor.catch_up(progress=progress, force=True, snapshot=False)
        if replayed or state.covisitation.stale_share() > REPRUNE_STALE_SHARE:
            # Serve from one compact, pre-cut matrix: rows touched since the last cut take the
            # slower per-item path, so a restart after heavy ingest cuts again.
            state.covisitation.prune()
        if replayed:
            log.info("replayed %d events in %.1fs", replayed, time.perf_counter() - started)
            # Written before serving, not in a background child that would compete with requests.
            processor.maybe_snapshot(force=replayed >= snapshot_every)
        return processor

    def sync_catalog(self) -> int:
        version, changes = self.stores.items.changes_since(self.state.catalog_version)
        return self.apply_catalog_changes(version, changes)

    def apply_catalog_changes(self, version: int, changes: list) -> int:
        """Apply ``(item_id, item or None)`` changes read from the item store up to ``version``."""
        for item_id, item in changes:
            if item is None:
                self.state.catalog.remove(item_id)
            else:
                self.state.catalog.upsert(item)
        if changes:
            self.state.catalog_version = version
            self.state.version += 1
        return len(changes)

    def catch_up(self, progress: Callable[[int, int], None] | None = None, force: bool = False,
                 snapshot: bool = True) -> int:
        """Apply catalog changes and events written since the state was last brought up to date."""
        if self._child is not None:
            self.reap()
        if (self.local_writes_in_flight or self.followed) and not force:
            # This process is applying its own batch a slice at a time: reading the rest of it
            # back from the log here would do that work again inside a read. Writes by other
            # processes are picked up by the first read after the batch is applied.
            return 0
        if not self.stores.events.changed() and not force:
            return 0
        self.sync_catalog()
        applied = 0
        total = None
        while True:
            rows = self.stores.events.read_rows_since(self.state.applied_seq, REPLAY_CHUNK)
            if not rows:
                break
            self._fold_rows(rows)
            applied += len(rows)
            note_applied(len(rows))
            if progress is not None:
                total = total or self.stores.events.last_seq()
                progress(self.state.applied_seq, total)
        if snapshot:
            self.maybe_snapshot()
        return applied

    def apply_rows(self, rows: list[tuple]) -> int:
        """Apply raw log rows (as ``read_rows_since`` returns them) in order; rows at or below
        the state's position are skipped. Returns how many were given."""
        self._fold_rows(rows)
        note_applied(len(rows))
        return len(rows)

    def _fold_rows(self, rows: list[tuple]) -> None:
        """Fold log rows, passing those the quarantine store holds (one query per chunk)."""
        apply, state = self.state.apply_row, self.state
        quarantine = self.stores.quarantine
        held = quarantine.excluded(rows[0][0] - 1, rows[-1][0]) if quarantine is not None and rows else ()
        if not held:
            for row in rows:
                apply(row, _decode_list, _decode_obj)
            return
        for row in rows:
            if row[0] in held:
                hold(state, row[0], row[7])
            else:
                apply(row, _decode_list, _decode_obj)

    def apply_appended(self, accepted: list[tuple[int, Event]]) -> None:
        """Apply events this process just appended, in log order, in one go (sync callers)."""
        for _ in self.apply_appended_in_slices(accepted, budget_s=float("inf")):
            pass

    def apply_appended_in_slices(self, accepted: list[tuple[int, Event]], budget_s: float = 0.001) -> Iterator[int]:
        """Apply events this process just appended, in log order, without reading them back,
        pausing after each ``budget_s`` of work.

        It yields the number of events applied so far; the caller serves other requests
        between slices (the ingest service awaits the event loop there), so a large batch
        never holds reads for more than about ``budget_s``. Callers must not interleave two
        batches' slices (the service holds a lock): events apply in log order, and an event
        at or below ``applied_seq`` is skipped, so a batch found out of order is repaired
        from the log instead of applied twice.
        """
        if accepted and accepted[0][0] != self.state.applied_seq + 1:
            self.catch_up(force=True)  # someone else wrote in between: stay in log order
        state, guard = self.state, self.guard
        apply, clock = state.apply, time.perf_counter
        deadline = clock() + budget_s
        for done, (seq, e) in enumerate(accepted, 1):
            items = [e.item_id] if e.item_id is not None else []
            if e.item_ids:
                items.extend(e.item_ids)
            if guard is not None and guard.check(state, seq, e.type, e.user_id, items, e.value, e.timestamp,
                                                 e.context, e.recommendation_id is not None):
                hold(state, seq, e.timestamp)
            else:
                apply(seq, e.type, e.user_id, e.session_id, items, e.value, e.timestamp, e.context, e.query)
            if not done & 15 and clock() >= deadline:  # the clock every 16 events: ~0.3 ms apart
                yield done
                deadline = clock() + budget_s
        if guard is not None:
            self.settle_guard()
        note_applied(len(accepted))
        self.maybe_snapshot()

    def settle_guard(self) -> None:
        """Persist the guard's new flags and take back out what was folded of newly found bots.

        Taking events back out changes state the last snapshot already holds, so the next
        snapshot is made due now (a restart before it would count them again).
        """
        flags, retro = self.guard.take() if self.guard is not None else ([], [])
        if retro:
            unfold(self.state, retro)
            self._last_snapshot_seq = min(self._last_snapshot_seq, self.state.applied_seq - self.snapshot_every)
        if flags and self.stores.quarantine is not None:
            self.stores.quarantine.hold([QuarantineRecord(f.seq, f.user_id, f.item_id, f.event_type, f.ts, f.reason)
                                         for f in flags])

    def maybe_snapshot(self, force: bool = False) -> bool:
        """Snapshot every ``snapshot_every`` events (in a forked child), or now when forced.

        Pickling millions of entries takes seconds; a forked child sees a copy-on-write
        image of the state frozen at this event, so serving goes on meanwhile (Redis's
        BGSAVE trick). Forced snapshots (shutdown) are written synchronously.
        """
        if self.snapshot_key is None:
            return False
        if force:
            self.wait_for_snapshot()  # its file may be the one that makes this call unnecessary
        else:
            self.reap()
        due = self.state.applied_seq - self._last_snapshot_seq >= self.snapshot_every
        if not (force or due):
            return False
        if self.state.applied_seq == self._last_snapshot_seq and self.stores.artifacts.stamp(self.snapshot_key) is not None:
            return False
        if force or not hasattr(os, "fork"):
            try:
                self.state.save(self.stores.artifacts, self.snapshot_key)
            except OSError as exc:  # a full disk at shutdown: the log still has everything
                log.error("state snapshot not written (%s); the next start replays the log instead", exc)
                return False
        elif self._child is None:
            pid = os.fork()
            if pid == 0:  # child: write and leave without running the parent's cleanup
                code = 0
                try:
                    store = self.fork_artifacts() if self.fork_artifacts is not None else self.stores.artifacts
                    self.state.save(store, self.snapshot_key)
                except BaseException:
                    code = 1
                os._exit(code)
            self._child = pid
        else:
            return False  # the previous snapshot is still being written
        self._last_snapshot_seq = self.state.applied_seq
        return True

    def reap(self) -> None:
        """Collect a finished background snapshot writer (cheap; called before reads)."""
        if self._child is not None:
            pid, status = os.waitpid(self._child, os.WNOHANG)
            if pid:
                if status:
                    log.warning("background snapshot failed with status %s", status)
                self._child = None

    def wait_for_snapshot(self) -> None:
        """Block until a background snapshot writer (if any) has finished."""
        if self._child is not None:
            os.waitpid(self._child, 0)
            self._child = None
