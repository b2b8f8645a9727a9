"""Ingest: validate, deduplicate, append durably, apply to online state, then acknowledge."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from tastemaker.ingest.processor import StreamProcessor
if TYPE_CHECKING:
    from tastemaker.ingest.follower import StreamFollower
from tastemaker.schema.registry import EventSchemaRegistry
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.schema.records import Event
from tastemaker.schema.validation import DEFAULT_LIMITS, InputLimits, check_events, decode_batch, raise_event_errors

CHECK_SLICE = 256  # events validated between two returns to the event loop (~0.4 ms)
APPLY_SLICE_S = 0.001  # longest stretch of state updates between two returns to the event loop
READ_PRIORITY = 4.0  # when reads ran while ingest gave the loop back, ingest rests this many times its slice


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    last_seq: int

    def to_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates}


async def refuse_erased(events: list[Event], is_array: bool, erased: Callable[[Iterable[str]], list[str]]) -> None:
    """409 naming each event of an erased user (a batch is all or nothing): an erasure is
    final, so a replay or a late client must not bring the person back. The ids are checked
    :data:`CHECK_SLICE` at a time, returning to the loop between slices (a keyed hash per
    distinct id: ~1-2 us each, 17 ms for 10,000 distinct users on the development box)."""
    users = list(dict.fromkeys(e.user_id for e in events))
    gone: set[str] = set()
    for start in range(0, len(users), CHECK_SLICE):
        if start:
            await asyncio.sleep(0)
        gone.update(erased(users[start:start + CHECK_SLICE]))
    if gone:
        where = [f"/{i}/user_id" if is_array else "/user_id" for i, e in enumerate(events) if e.user_id in gone]
        raise ValidationFailed([FieldError(w, "this user was erased; events for an erased user are refused")
                                for w in where[:100]], title="Erased user", status=409)


class IngestService:
    """The write path of DESIGN.md, up to the ack.

    The durable append (an fsync) runs on one writer thread so the event loop keeps serving
    reads; state is then updated on the loop thread, before the response is sent, so the
    next request of that user sees the event. Validation and the state update run a slice
    at a time, returning to the loop in between, so a 10,000-event batch delays concurrent
    reads by about a millisecond, not by the tens of milliseconds the whole batch takes.
    """

    def __init__(self, processor: StreamProcessor, event_schemas: EventSchemaRegistry,
                 limits: InputLimits = DEFAULT_LIMITS, erased: Callable[[Iterable[str]], list[str]] | None = None,
                 pseudonymize: Callable[[str], str] | None = None):
        self.processor = processor
        self.erased = erased  # the erased ones among some user ids (privacy.tombstones); their events are refused
        # raw user id -> stored id (privacy.pseudonyms), applied after the checks, before anything is written
        self.pseudonymize = pseudonymize
        self.event_schemas = event_schemas
        self.limits = limits  # bounds on free-form fields (Settings.input_limits)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-log-writer")
        self._apply_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self.reads_served = 0  # counted by the read path (Engine.recommend): are reads competing?
        # called with each batch's accepted events once they are applied (bandit posteriors)
        self.after_apply: Callable[[list[Event]], object] | None = None
        # set when a shared log is followed (ingest.follower): appends no longer apply in place
        self.follower: StreamFollower | None = None
        self.follow_wait_s = 2.0  # how long an ack waits for the follower to apply its batch
        self._appenders = ThreadPoolExecutor(max_workers=8, thread_name_prefix="event-log-appender")

    def _apply_lock(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        """The lock that makes batches apply one after another, in the order their appends
        finished (the writer is one thread and asyncio.Lock is FIFO), which is log order.
        One per event loop: a lock is bound to the loop it first waited on."""
        lock = self._apply_locks.get(loop)
        if lock is None:
            self._apply_locks.clear()  # a finished loop's lock is of no further use
            lock = self._apply_locks[loop] = asyncio.Lock()
        return lock

    def apply_lock(self) -> asyncio.Lock:
        """The lock batches are applied under, for other changes to the state that must fall
        between two batches (releasing quarantined events)."""
        return self._apply_lock(asyncio.get_running_loop())

    async def decode(self, body: bytes) -> list[Event]:
        """Decode and validate a ``POST /v1/events`` body; raises ValidationFailed (nothing written)."""
        events, is_array = decode_batch(body, Event)
        errors: list[FieldError] = []
        await self._run_sliced(self._check_slices(events, is_array, errors))
        raise_event_errors(errors)
        if self.erased is not None:
            await refuse_erased(events, is_array, self.erased)
        pseudonymize = self.pseudonymize
        if pseudonymize is not None:  # cached per id: a dict look-up per event for active users
            for event in events:
                event.user_id = pseudonymize(event.user_id)
        return events

    def _check_slices(self, events: list[Event], is_array: bool, errors: list[FieldError]) -> Iterator[None]:
        now = time.time()
        for start in range(0, len(events), CHECK_SLICE):
            if start:
                yield
            check_events(events, start, start + CHECK_SLICE, self.event_schemas, errors, is_array, now, self.limits)

    async def ingest(self, body: bytes) -> IngestResult:
        events = await self.decode(body)
        if self.follower is not None:
            return await self._ingest_followed(events)
        loop = asyncio.get_running_loop()
        processor = self.processor
        processor.local_writes_in_flight += 1  # before the append: reads must not replay it from the log
        try:
            result = await loop.run_in_executor(self._writer, processor.stores.events.append, events)
            async with self._apply_lock(loop):
                await self._run_sliced(processor.apply_appended_in_slices(result.accepted, APPLY_SLICE_S))
                if self.after_apply is not None and result.accepted:
                    self.after_apply([event for _, event in result.accepted])
        finally:
            processor.local_writes_in_flight -= 1
        return IngestResult(len(result.accepted), result.duplicates, processor.state.applied_seq)

    async def _ingest_followed(self, events: list[Event]) -> IngestResult:
        """The log is shared and followed (ingest.follower): append, then wait until the
        follower applied up to the batch's position, so this worker's next read sees it.
        Appends run side by side (the log orders them); a wait that runs out still acks:
        the events are durable, and the returned position lets any read wait for them."""
        follower = self.follower
        loop = asyncio.get_running_loop()
        log = self.processor.stores.events
        result = await loop.run_in_executor(self._appenders, log.append, events)
        if result.accepted:
            position = result.accepted[-1][0]
        else:  # all duplicates: their first copies are at or before the log's end
            position = await loop.run_in_executor(self._appenders, log.last_seq) if result.duplicates else 0
        await follower.wait_for(position, self.follow_wait_s)
        if self.after_apply is not None and result.accepted:
            self.after_apply([event for _, event in result.accepted])
        return IngestResult(len(result.accepted), result.duplicates, position)

    async def _run_sliced(self, slices: Iterator[object]) -> None:
        """Run a sliced piece of work (a generator that yields between slices), giving the loop
        back after each slice; when reads ran meanwhile, rest ``READ_PRIORITY`` x the slice.

        Reads come first because their latency is what users see: under a read load near a
        core, ingest keeps about a fifth of the loop and its acks slow down, instead of every
        read queueing behind batches. Ingest alone, or beside light reads (which rarely land
        in the gap after a slice), runs at full speed.
        """
        clock = time.perf_counter
        started = clock()
        for _ in slices:
            worked = clock() - started
            reads = self.reads_served
            await asyncio.sleep(0)
            if self.reads_served != reads:
                await asyncio.sleep(worked * READ_PRIORITY)
            started = clock()

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._appenders.shutdown(wait=True)
