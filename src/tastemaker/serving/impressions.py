"""Impression logging off the request path: an in-memory buffer, flushed in batches.

The request path appends one :class:`~tastemaker.storage.protocols.ImpressionRecord` to a
deque (no I/O, no lock: deque appends and pops are thread-safe); a daemon thread writes what accumulated
every ``flush_every_s`` in one transaction, so a durable database pays one fsync per batch,
never one per request. ``flush()`` writes now (tests, the CLI, shutdown). If the store
cannot keep up, the buffer is capped at ``max_buffer`` records and the oldest are dropped
(counted in ``dropped``): impressions are training data, not the source of truth.

Retention: with ``retention_s`` set, impressions older than that are deleted after a flush,
at most once per ``retention_check_s`` (an hour by default), so the log stays bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable, Iterable

from tastemaker.storage.protocols import ImpressionLog, ImpressionRecord

log = logging.getLogger(__name__)


class ImpressionLogger:
    """Batches impressions into an :class:`ImpressionLog`.

    >>> class Memory:
    ...     def __init__(self): self.rows = []
    ...     def append(self, batch): self.rows.extend(batch); return len(batch)
    >>> store = Memory(); logger = ImpressionLogger(store, flush_every_s=60)
    >>> logger.log(ImpressionRecord("r1", "home", "u", 1.0, ["a"]))
    >>> len(store.rows), logger.flush(), len(store.rows)
    (0, 1, 1)
    >>> logger.close()
    """

    def __init__(self, store: ImpressionLog, flush_every_s: float = 0.25, max_buffer: int = 100_000,
                 retention_s: float | None = None, retention_check_s: float = 3600.0,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.retention_s = retention_s if retention_s and retention_s > 0 else None
        self.retention_check_s = retention_check_s
        self.clock = clock
        self.expired = 0  # deleted by retention
        self._next_retention = -float("inf")
        self.flush_every_s = flush_every_s
        self.max_buffer = max_buffer
        self.dropped = 0
        self.written = 0
        self._buffer: deque[ImpressionRecord] = deque()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # the erased among some user ids (privacy.tombstones): their impressions are never written
        self.erased: Callable[[Iterable[str]], list[str]] | None = None

    def log(self, record: ImpressionRecord) -> None:
        self._buffer.append(record)
        if self._thread is None:
            self._start()
        if len(self._buffer) > self.max_buffer:
            try:
                self._buffer.popleft()
                self.dropped += 1
            except IndexError:  # the flusher took everything meanwhile
                pass

    def _start(self) -> None:
        with self._flush_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="impression-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_every_s):
            try:
                self.flush()
                self.apply_retention()
            except Exception:  # the next flush retries what is still buffered
                log.exception("writing impressions failed")

    def apply_retention(self, force: bool = False) -> int:
        """Delete impressions older than ``retention_s`` (at most once per ``retention_check_s``
        unless ``force``); returns how many."""
        now = self.clock()
        if self.retention_s is None or (not force and now < self._next_retention):
            return 0
        self._next_retention = now + self.retention_check_s
        n = self.store.delete_before(now - self.retention_s)
        self.expired += n
        return n

    def pending(self) -> int:
        return len(self._buffer)

    def flush(self) -> int:
        """Write everything buffered now; returns how many records were new."""
        with self._flush_lock:
            buffer = self._buffer
            batch = [buffer.popleft() for _ in range(len(buffer))]  # later appends wait for the next flush
            if batch and self.erased is not None:
                gone = set(self.erased(r.user_id for r in batch))
                batch = [r for r in batch if r.user_id not in gone] if gone else batch
            if not batch:
                return 0
            try:
                n = self.store.append(batch)
            except Exception:
                buffer.extendleft(reversed(batch))  # keep them for the next try
                raise
            self.written += n
            return n

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        try:
            self.flush()
        except Exception:
            log.exception("writing impressions at shutdown failed")
