"""serving.impressions: served lists are buffered and written in batches, off the request path."""

from __future__ import annotations

import threading

import pytest

from tastemaker.serving.impressions import ImpressionLogger
from tastemaker.storage.protocols import ImpressionRecord


class Store:
    def __init__(self, fail: int = 0) -> None:
        self.batches: list[list[ImpressionRecord]] = []
        self.fail = fail
        self.threads: set[str] = set()
        self.written = threading.Event()  # set by the first batch written: what a test waits on

    def append(self, batch):
        self.threads.add(threading.current_thread().name)
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        self.batches.append(list(batch))
        self.written.set()
        return len(batch)


def rec(i: int) -> ImpressionRecord:
    return ImpressionRecord(f"r{i}", "home", "u", float(i), ["a"])


def test_logging_does_no_io_and_flush_writes_one_batch():
    store = Store()
    logger = ImpressionLogger(store, flush_every_s=3600)
    for i in range(5):
        logger.log(rec(i))
    assert store.batches == [] and logger.pending() == 5
    assert logger.flush() == 5 and [r.recommendation_id for r in store.batches[0]] == [f"r{i}" for i in range(5)]
    assert logger.flush() == 0 and len(store.batches) == 1
    logger.close()


def test_the_background_thread_flushes_and_close_drains():
    store = Store()
    logger = ImpressionLogger(store, flush_every_s=0.01)
    logger.log(rec(1))
    store.written.wait()  # the background thread's write, however late a loaded machine runs it
    assert store.batches and store.threads == {"impression-log"}
    logger.log(rec(2))
    logger.close()
    assert [r.recommendation_id for b in store.batches for r in b] == ["r1", "r2"]
    assert logger.written == 2


def test_a_failed_write_keeps_the_records_for_the_next_flush():
    store = Store(fail=1)
    logger = ImpressionLogger(store, flush_every_s=3600)
    logger.log(rec(1))
    logger.log(rec(2))
    with pytest.raises(OSError):
        logger.flush()
    logger.log(rec(3))
    assert logger.flush() == 3 and [r.recommendation_id for r in store.batches[0]] == ["r1", "r2", "r3"]
    logger.close()


def test_the_buffer_is_bounded():
    logger = ImpressionLogger(Store(), flush_every_s=3600, max_buffer=3)
    for i in range(5):
        logger.log(rec(i))
    assert logger.pending() == 3 and logger.dropped == 2
    logger.close()


def test_retention_deletes_old_impressions_at_most_once_per_check(tmp_path):
    from tastemaker.storage.sqlite.database import Database
    from tastemaker.storage.sqlite.impressions import SQLiteImpressionLog

    db = Database(tmp_path / "t.db", durable=False)
    now = [1_000.0]
    try:
        store = SQLiteImpressionLog(db)
        logger = ImpressionLogger(store, flush_every_s=60, retention_s=100.0, retention_check_s=50.0,
                                  clock=lambda: now[0])
        for i, ts in enumerate((850.0, 899.0, 900.0, 990.0)):
            logger.log(ImpressionRecord(f"r{i}", "home", "u", ts, ["a"]))
        logger.flush()
        assert logger.apply_retention() == 2  # older than now - 100 = 900
        assert [r.recommendation_id for r in store.read()] == ["r2", "r3"]
        now[0] = 1_030.0  # 30 s later: within the check interval, nothing runs
        assert logger.apply_retention() == 0 and store.count() == 2
        now[0] = 1_060.0
        assert logger.apply_retention() == 1 and logger.expired == 3
        logger.close()
    finally:
        db.close()


def test_no_retention_keeps_everything():
    store = Store()
    logger = ImpressionLogger(store, flush_every_s=60, retention_s=0)
    assert logger.retention_s is None and logger.apply_retention(force=True) == 0
    logger.close()
