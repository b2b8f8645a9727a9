"""The stream copy: every message up to the last sequence, republished into an empty stream at
the same sequences (gaps from erasure at the start, middle and end kept), message ids kept for
deduplication; a non-empty target or another partition count refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tastemaker.schema.records import Event
from tastemaker.storage.nats.events import NatsEventLog
from tastemaker.storage.nats.jetstream import StreamSpec
from tastemaker.storage.nats.snapshot import (
    SnapshotError,
    dump_stream,
    read_frames,
    restore_stream,
)

from .. import services


def _spec() -> StreamSpec:
    name = services.new_stream_name()
    return StreamSpec(name=name, subject_prefix=f"test.{name}")


@pytest.fixture
def logs():
    services.require(services.NATS_URL, "NATS")
    opened: list[NatsEventLog] = []

    def open_log(spec: StreamSpec) -> NatsEventLog:
        opened.append(NatsEventLog(services.NATS_URL, spec))
        return opened[-1]

    yield open_log
    for log in opened:
        log.delete_stream()
        log.close()


def _events(n: int) -> list[Event]:
    return [Event(id=f"e{i}", type="view", user_id=f"u{i % 5}", item_id=f"i{i % 7}") for i in range(n)]


def test_a_restore_keeps_every_message_at_its_sequence_through_gaps(logs, tmp_path: Path):
    source_spec, target_spec = _spec(), _spec()
    source = logs(source_spec)
    source.append(_events(30))  # u0 has 1, 6, ..., 26; u4 has 5, ..., 30 (the last)
    assert source.erase_user("u0") == 6 and source.erase_user("u4") == 6
    description = dump_stream(services.NATS_URL, source_spec, tmp_path / "s.bin")
    assert (description["last_seq"], description["messages"]) == (30, 18)
    assert [f[0] for f in read_frames(tmp_path / "s.bin")] == [s for s, _ in source.read_since(0)]

    assert restore_stream(services.NATS_URL, target_spec, tmp_path / "s.bin", description) == 18
    target = logs(target_spec)
    assert target.read_rows_since(0) == source.read_rows_since(0)  # same rows at the same positions
    assert (target.last_seq(), target.count()) == (30, 18)  # placeholders purged, the last gap kept
    assert target.append(_events(3)).duplicates == 3 - 1  # e0 was erased; e1, e2 are still known ids
    assert target.append([Event(id="new", type="view", user_id="u1")]).accepted[0][0] == 32


def test_a_target_that_holds_messages_is_refused_unless_forced(logs, tmp_path: Path):
    source_spec, target_spec = _spec(), _spec()
    logs(source_spec).append(_events(4))
    description = dump_stream(services.NATS_URL, source_spec, tmp_path / "s.bin")
    target = logs(target_spec)
    target.append([Event(id="other", type="view", user_id="x")])
    with pytest.raises(SnapshotError, match="not empty"):
        restore_stream(services.NATS_URL, target_spec, tmp_path / "s.bin", description)
    assert [e.id for _, e in target.read_since(0)] == ["other"]
    restore_stream(services.NATS_URL, target_spec, tmp_path / "s.bin", description, force=True)
    assert [e.id for _, e in target.read_since(0)] == ["e0", "e1", "e2", "e3"]


def test_another_partition_count_is_refused(logs, tmp_path: Path):
    source_spec = _spec()
    logs(source_spec).append(_events(2))
    description = dump_stream(services.NATS_URL, source_spec, tmp_path / "s.bin")
    with pytest.raises(SnapshotError, match="16 partitions, this deployment 8"):
        restore_stream(services.NATS_URL, replace(_spec(), partitions=8), tmp_path / "s.bin", description)


def test_an_empty_stream_copies_to_an_empty_file(logs, tmp_path: Path):
    spec = _spec()
    logs(spec)
    description = dump_stream(services.NATS_URL, spec, tmp_path / "s.bin")
    assert (description["last_seq"], description["messages"]) == (0, 0)
    assert list(read_frames(tmp_path / "s.bin")) == []


def test_docstring_examples_run():
    import doctest

    import tastemaker.storage.nats.snapshot as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
