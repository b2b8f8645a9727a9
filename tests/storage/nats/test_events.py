"""What the JetStream event log does beyond the EventLog contract (tests/storage/test_event_log_contract.py
runs that on it): subjects by user, erased bytes gone from the server's files, erased ids
logged again more than once, concurrent appenders."""

from __future__ import annotations

import os
import threading
import zlib
from pathlib import Path
from typing import Iterator

import pytest

from tastemaker.schema.records import Event

from .. import services

STORE_DIR = Path(os.environ.get("TASTEMAKER_TEST_NATS_STORE_DIR", "/var/lib/nats-server/jetstream/$G/streams"))


@pytest.fixture
def stream_name() -> Iterator[str]:
    services.require(services.NATS_URL, "NATS JetStream")
    name = services.new_stream_name()
    yield name
    services.delete_stream(name)


def _log(name: str, partitions: int = 16):
    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.nats.jetstream import StreamSpec

    return NatsEventLog(services.NATS_URL, StreamSpec(name=name, subject_prefix=f"test.{name}", partitions=partitions))


def _ev(i: int, user: str = "u1") -> Event:
    return Event(id=f"e{i}", type="view", user_id=user, item_id="i1", timestamp=1_700_000_000.0 + i)


def test_events_go_to_their_users_partition_subject(stream_name: str):
    log = _log(stream_name, partitions=4)
    try:
        users = [f"user-{i}" for i in range(12)]
        result = log.append([_ev(i, user) for i, user in enumerate(users)])
        for seq, event in result.accepted:
            msg = log._loop.call(log._stream.js.get_msg(stream_name, seq))
            assert msg.subject == f"test.{stream_name}.{zlib.crc32(event.user_id.encode()) % 4}"
        assert len({zlib.crc32(u.encode()) % 4 for u in users}) > 1  # the users did spread
    finally:
        log.close()


def test_an_erased_user_leaves_no_bytes_in_the_servers_files(stream_name: str):
    gone = b"person-9c1d"
    log = _log(stream_name)
    directory = STORE_DIR / stream_name
    try:
        if not os.access(directory, os.R_OK | os.X_OK):
            pytest.skip(f"the stream's files {directory} are not readable here (set TASTEMAKER_TEST_NATS_STORE_DIR)")
        log.append([_ev(1, "a"), Event(id="x1", type="search", user_id=gone.decode(), query="private words",
                                       timestamp=1.0), _ev(2, "b"), _ev(3, gone.decode())])

        def hits(needle: bytes) -> int:
            return sum(p.read_bytes().count(needle) for p in directory.rglob("*") if p.is_file())

        assert hits(gone) > 0 and hits(b"private words") > 0  # the scan does see what is stored
        assert log.erase_user(gone.decode()) == 2
        assert hits(gone) == 0 and hits(b"private words") == 0
        assert [e.user_id for _, e in log.read_since(0)] == ["a", "b"]
    finally:
        log.close()


def test_an_erased_id_can_be_logged_again_more_than_once(stream_name: str):
    log = _log(stream_name)
    try:
        assert [s for s, _ in log.append([_ev(1, "gone")]).accepted] == [1]
        for round_ in range(3):
            assert log.erase_user("gone") == 1
            again = log.append([_ev(1, "gone")])
            assert [s for s, _ in again.accepted] == [2 + 2 * round_]  # published under e1~1, e1~2, ...
            assert log.append([_ev(1, "gone")]).duplicates == 1  # ...and deduplicated under that id
            log.append([_ev(100 + round_, "other")])
        assert log.count() == 4
    finally:
        log.close()


def test_concurrent_appenders_log_every_event_once(stream_name: str):
    logs = [_log(stream_name) for _ in range(4)]
    results: list[list[list[int]]] = [[] for _ in logs]
    start = threading.Barrier(len(logs))

    def run(w: int) -> None:
        start.wait()
        for b in range(10):  # every worker also resends the ids of the worker before it
            ids = [w * 1000 + b * 10 + i for i in range(10)] + [((w - 1) % 4) * 1000 + b * 10]
            result = logs[w].append([_ev(i, f"user-{i % 7}") for i in ids])
            results[w].append([s for s, _ in result.accepted])

    threads = [threading.Thread(target=run, args=(w,)) for w in range(len(logs))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seqs = [s for per_worker in results for batch in per_worker for s in batch]
        assert sorted(seqs) == list(range(1, 401))  # 400 distinct ids, each once, no gaps
        assert all(batch == sorted(batch) for per_worker in results for batch in per_worker)
        assert sorted(e.id for _, e in logs[0].read_since(0, limit=1000)) == sorted(
            f"e{w * 1000 + b * 10 + i}" for w in range(4) for b in range(10) for i in range(10))
    finally:
        for log in logs:
            log.close()


def test_a_resend_after_reconnecting_is_a_duplicate(stream_name: str):
    first = _log(stream_name)
    first.append([_ev(1), _ev(2)])
    first.close()
    second = _log(stream_name)
    try:
        again = second.append([_ev(2), _ev(3)])
        assert [(s, e.id) for s, e in again.accepted] == [(3, "e3")] and again.duplicates == 1
    finally:
        second.close()
