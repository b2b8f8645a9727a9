"""ingest.follower: a worker's state follows a shared JetStream log (another process's appends
included), in order, on its event loop; waiting for a position; catalog changes; stopping."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import pytest

from tastemaker.config import Settings
from tastemaker.features.state import OnlineState
from tastemaker.ingest.follower import StreamFollower
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.schema.records import Event, Item
from tastemaker.storage.factory import Stores

from ..storage import services


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[Stores, Stores]]:
    """Two workers' stores on one JetStream stream (their other stores: one SQLite file)."""
    services.require(services.NATS_URL, "NATS JetStream")
    name = services.new_stream_name()
    opener = services.jetstream_opener(tmp_path, name)
    mine, other = opener(False), opener(False)
    mine.follow = mine.events.follow
    yield mine, other
    mine.close()
    other.close()
    services.delete_stream(name)


def _events(start: int, n: int, user: str = "u1") -> list[Event]:
    return [Event(id=f"e{i}", type="view", user_id=user, item_id=f"i{i % 3}", timestamp=1_700_000_000.0 + i)
            for i in range(start, start + n)]


def test_the_state_follows_another_workers_appends_in_order(shared):
    mine, other = shared
    other.events.append(_events(0, 5))  # before this worker started: replayed by open
    processor = StreamProcessor.open(mine, snapshot_key=None)
    assert processor.state.applied_seq == 5

    async def run() -> None:
        follower = StreamFollower(processor, mine.follow)
        await follower.start()
        try:
            assert processor.catch_up() == 0  # reads no longer ask the log: the follower applies it
            position = other.events.append(_events(5, 600, user="u2")).accepted[-1][0]
            assert await follower.wait_for(position, 30)
            assert follower.position == position == 605 and follower.applied == 600
            assert processor.state.users["u2"].event_count == 600
            assert processor.state.users["u1"].event_count == 5
            # a position the log has not reached: the bounded wait says no
            assert not await follower.wait_for(position + 1, 0.05)
            other.events.append(_events(605, 1, user="u3"))
            assert await follower.wait_for(position + 1, 30)  # and yes once it is there
        finally:
            await follower.stop()
        assert not processor.followed

    asyncio.run(run())


def test_catalog_changes_of_other_workers_are_applied(shared):
    mine, other = shared
    processor = StreamProcessor.open(mine, snapshot_key=None)

    async def run() -> None:
        follower = StreamFollower(processor, mine.follow, catalog_check_s=0.01)
        await follower.start()
        try:
            other.items.upsert([Item(id="new-item", title="New")])
            while processor.state.catalog.size() == 0:
                await asyncio.sleep(0.01)  # the follower reads the catalog's changes every 10 ms
        finally:
            await follower.stop()

    asyncio.run(asyncio.wait_for(run(), 30))
    assert processor.state.catalog_version > 0


def test_settings_name_the_stream_and_the_wait():
    s = Settings(nats_stream="S1", nats_subject_prefix="p.s1", read_wait_s=0.5)
    assert (s.nats_stream, s.nats_subject_prefix, s.read_wait_s) == ("S1", "p.s1", 0.5)
