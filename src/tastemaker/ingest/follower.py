"""Following a shared event log: every worker applies the whole stream, in order, to its own state.

In the distributed deployment several workers on several machines append to one log (a
JetStream stream) and each keeps its online state in memory. The follower is how a worker
stays current: the log pushes every row appended after the state's position
(``Stores.follow``, on the log client's thread), the follower hands the batch to the server's
event loop, and a drain task applies it there in log order, :data:`APPLY_SLICE` rows at a
time with the loop given back in between, so reads keep being served while a burst is applied.
It is the only writer of the state then: this worker's own appends come back through the
stream too, and ingest waits for their position instead of applying them itself.

Read-your-writes by position: a write returns the log position of its last event; a read that
carries a position (``X-Tastemaker-After``) waits with :meth:`StreamFollower.wait_for` until
the state has applied that far (bounded; the caller answers 503 when the wait runs out).

Catalog changes come from the item store, not from the log: the drain task reads them every
:data:`CATALOG_CHECK_S` in a worker thread and applies them on the loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from typing import Callable

from tastemaker.ingest.processor import StreamProcessor

log = logging.getLogger(__name__)
APPLY_SLICE = 256  # rows applied between two returns to the event loop (~0.5 ms)
CATALOG_CHECK_S = 0.5  # how often the catalog's changes are read (another worker's item writes)

Follow = Callable[[int, Callable[[list[tuple]], None]], Callable[[], None]]


class StreamFollower:
    """Applies a followed log to ``processor``'s state on the running event loop.

    Create and :meth:`start` it on the server's loop (once the processor has restored its
    state), :meth:`stop` it before the stores close.
    """

    def __init__(self, processor: StreamProcessor, follow: Follow, catalog_check_s: float = CATALOG_CHECK_S):
        self.processor = processor
        self.follow = follow
        self.catalog_check_s = catalog_check_s
        self._rows: deque[list[tuple]] = deque()
        self._waiters: list[tuple[int, int, asyncio.Future]] = []  # heap of (position, tiebreak, future)
        self._tiebreak = itertools.count()
        self._stop_log: Callable[[], None] | None = None
        self._task: asyncio.Task | None = None
        self.applied = 0  # rows this follower applied (tests, metrics)

    @property
    def position(self) -> int:
        """The last log position applied to this worker's state."""
        return self.processor.state.applied_seq

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.processor.followed = True  # reads stop asking the log whether it changed
        self._stop_log = self.follow(self.position, self._receive)
        self._task = asyncio.create_task(self._drain(), name="tastemaker-follower")

    def _receive(self, rows: list[tuple]) -> None:
        """Called on the log client's thread with rows in log order."""
        self._loop.call_soon_threadsafe(self._queue, rows)

    def _queue(self, rows: list[tuple]) -> None:
        self._rows.append(rows)
        self._wake.set()

    async def _drain(self) -> None:
        next_catalog = 0.0
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.catalog_check_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                if time.monotonic() >= next_catalog:
                    next_catalog = time.monotonic() + self.catalog_check_s
                    await self._sync_catalog()
                while self._rows:
                    await self._apply(self._rows.popleft())
                self.processor.maybe_snapshot()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad row or a store hiccup must not stop the worker following
                log.exception("applying the followed log failed; continuing with the next rows")

    async def _sync_catalog(self) -> None:
        items = self.processor.stores.items
        version, changes = await asyncio.to_thread(items.changes_since, self.processor.state.catalog_version)
        if changes:
            self.processor.apply_catalog_changes(version, changes)

    async def _apply(self, rows: list[tuple]) -> None:
        apply = self.processor.apply_rows
        for start in range(0, len(rows), APPLY_SLICE):
            if start:
                await asyncio.sleep(0)  # reads between slices
            self.applied += apply(rows[start:start + APPLY_SLICE])
            self._release()

    def _release(self) -> None:
        position, waiters = self.position, self._waiters
        while waiters and waiters[0][0] <= position:
            future = heapq.heappop(waiters)[2]
            if not future.done():
                future.set_result(True)

    async def wait_for(self, position: int, timeout: float) -> bool:
        """Whether this worker's state reached ``position`` within ``timeout`` seconds."""
        if position <= self.position:
            return True
        future = self._loop.create_future()
        heapq.heappush(self._waiters, (position, next(self._tiebreak), future))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError:
            return position <= self.position
        finally:
            future.cancel()  # a timed-out waiter leaves the heap when the position passes it

    async def stop(self) -> None:
        if self._stop_log is not None:
            stop, self._stop_log = self._stop_log, None
            await asyncio.to_thread(stop)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self.processor.followed = False
