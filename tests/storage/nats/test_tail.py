"""storage.nats.tail through NatsEventLog.follow: every row after a position, in stream order,
as it is appended, skipping what was deleted, until stopped."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from tastemaker.schema.records import Event

from .. import services


@pytest.fixture
def log() -> Iterator:
    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.nats.jetstream import StreamSpec

    services.require(services.NATS_URL, "NATS JetStream")
    name = services.new_stream_name()
    log = NatsEventLog(services.NATS_URL, StreamSpec(name=name, subject_prefix=f"test.{name}"))
    yield log
    log.delete_stream()
    log.close()


class Collector:
    """Collects delivered rows (on the log's thread) and signals when ``want`` have come."""

    def __init__(self, want: int):
        self.rows: list[tuple] = []
        self.batches = 0
        self.want = want
        self.done = threading.Event()

    def __call__(self, rows: list[tuple]) -> None:
        self.rows += rows
        self.batches += 1
        if len(self.rows) >= self.want:
            self.done.set()


def _events(start: int, n: int) -> list[Event]:
    return [Event(id=f"e{i}", type="view", user_id=f"u{i % 5}", item_id=f"i{i}", timestamp=1_700_000_000.0 + i)
            for i in range(start, start + n)]


def test_follow_delivers_rows_after_the_position_in_order_live_and_past(log):
    log.append(_events(0, 50))
    seen = Collector(130)
    stop = log.follow(20, seen)  # history after 20 first ...
    log.append(_events(50, 100))  # ... then what is appended while following
    assert seen.done.wait(30)
    stop()
    assert [r[0] for r in seen.rows] == list(range(21, 151))
    assert seen.rows == log.read_rows_since(20, 1_000)  # the same rows replay reads
    assert seen.batches < len(seen.rows)  # handed over in batches, not one call per row


def test_follow_skips_deleted_messages_and_stops(log):
    log.append(_events(0, 10))
    log.erase_user("u1")  # positions 2 and 7 gone
    seen = Collector(8)
    stop = log.follow(0, seen)
    assert seen.done.wait(30)
    assert [r[0] for r in seen.rows] == [1, 3, 4, 5, 6, 8, 9, 10]
    stop()
    log.append(_events(10, 5))
    later = Collector(5)
    stop_later = log.follow(10, later)  # a live follower gets the new rows ...
    assert later.done.wait(30)
    stop_later()
    assert [r[0] for r in later.rows] == [11, 12, 13, 14, 15]
    assert len(seen.rows) == 8  # ... the stopped one does not
