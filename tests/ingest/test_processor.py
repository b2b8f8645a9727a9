"""ingest.processor: online state follows the event log and the catalog, in log order."""

from __future__ import annotations

import numpy as np

from tastemaker.features.state import OnlineState, StateConfig
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.schema.records import Event, Item

T0 = 1_700_000_000.0


def ev(i: int, type_: str = "view", user: str = "u1", item: str | None = "a", **kw) -> Event:
    return Event(id=f"e{i}", type=type_, user_id=user, item_id=item, timestamp=T0 + i, **kw)


def mixed_events() -> list[Event]:
    out = []
    for i in range(40):
        user = f"u{i % 3}"
        if i % 7 == 3:
            out.append(ev(i, "search", user, None, query=f"query {i}"))
        elif i % 5 == 0:
            out.append(ev(i, "purchase", user, f"i{i % 6}", session_id="s", value=9.99, context={"device": "mobile"}))
        elif i % 11 == 0:
            out.append(ev(i, "rating", user, f"i{i % 4}", value=4.5))
        else:
            out.append(Event(id=f"e{i}", type="view", user_id=user, item_ids=[f"i{i % 6}", f"i{(i + 2) % 6}"], timestamp=T0 + i,
                             context={"geo": {"country": "DE"}}))
    return out


def snapshot_seq(processor: StreamProcessor) -> int | None:
    """The applied_seq of the processor's snapshot, once a background writer has finished."""
    processor.wait_for_snapshot()
    state = OnlineState.load(processor.stores.artifacts, processor.snapshot_key)
    return state.applied_seq if state is not None else None


def assert_same_state(a: OnlineState, b: OnlineState) -> None:
    assert a.applied_seq == b.applied_seq
    assert a.index.ids == b.index.ids
    assert a.users == b.users
    assert a.clock == b.clock
    np.testing.assert_allclose(a.popularity_scores(), b.popularity_scores())
    np.testing.assert_allclose(a.trending(), b.trending())
    assert set(a.segments) == set(b.segments)
    for seed in range(len(a.index)):
        na = a.covisitation.neighbors(np.array([seed]), np.ones(1), 50)
        nb = b.covisitation.neighbors(np.array([seed]), np.ones(1), 50)
        assert sorted(na[0].tolist()) == sorted(nb[0].tolist())


def test_open_on_an_empty_log(stores):
    processor = StreamProcessor.open(stores, None)
    assert processor.state.applied_seq == 0 and processor.state.users == {}


def test_open_replays_the_log_with_progress(stores):
    stores.events.append(mixed_events())
    calls = []
    processor = StreamProcessor.open(stores, None, StateConfig(session_timeout_s=60.0), progress=lambda done, total: calls.append((done, total)))
    assert processor.state.applied_seq == 40
    assert processor.state.config.session_timeout_s == 60.0
    assert calls == [(40, 40)]
    assert sum(u.event_count for u in processor.state.users.values()) == 40


def test_catch_up_picks_up_another_connections_events(open_store):
    mine, theirs = open_store(), open_store()
    processor = StreamProcessor.open(mine, None)
    assert processor.catch_up() == 0
    theirs.events.append([ev(1), ev(2, user="u2", item="b")])
    assert processor.catch_up() == 2
    assert processor.state.applied_seq == 2
    assert set(processor.state.users) == {"u1", "u2"}
    assert processor.catch_up() == 0  # nothing new: cheap
    theirs.events.append([ev(2), ev(3)])  # one duplicate, one new
    assert processor.catch_up() == 1
    assert processor.state.users["u1"].event_count == 2


def test_catch_up_follows_catalog_changes_of_another_connection(open_store):
    mine, theirs = open_store(), open_store()
    processor = StreamProcessor.open(mine, None)
    theirs.items.upsert([Item(id="a", categories=["x"]), Item(id="b", stock=0)])
    processor.catch_up()
    catalog, index = processor.state.catalog, processor.state.index
    assert catalog.size() == 2 and catalog.available[index.get("a")] and not catalog.available[index.get("b")]
    version = processor.state.version
    theirs.items.delete("a")
    processor.catch_up()
    assert not catalog.known[index.get("a")] and catalog.category_members["x"] == set()
    assert processor.state.version > version
    assert processor.state.catalog_version == theirs.items.changes_since(0)[0]


def test_apply_appended_in_order(stores):
    processor = StreamProcessor.open(stores, None)
    result = stores.events.append([ev(1), ev(2, item="b")])
    processor.apply_appended(result.accepted)
    assert processor.state.applied_seq == 2
    assert [processor.state.index.ids[r.item] for r in processor.state.users["u1"].recent] == ["a", "b"]
    processor.apply_appended([])
    assert processor.state.applied_seq == 2


def test_apply_appended_with_a_gap_catches_up_first(open_store):
    mine, theirs = open_store(), open_store()
    processor = StreamProcessor.open(mine, None)
    theirs.events.append([ev(1, item="x"), ev(2, item="y")])  # another worker, seqs 1 and 2
    result = mine.events.append([ev(3, item="z")])
    assert result.accepted[0][0] == 3
    processor.apply_appended(result.accepted)
    assert processor.state.applied_seq == 3
    user = processor.state.users["u1"]
    assert [processor.state.index.ids[r.item] for r in user.recent] == ["x", "y", "z"]
    assert user.event_count == 3  # nothing applied twice


def test_live_state_equals_state_replayed_from_the_log(open_store):
    live_stores = open_store()
    live = StreamProcessor.open(live_stores, None)
    events = mixed_events()
    for start in range(0, len(events), 7):
        live.apply_appended(live_stores.events.append(events[start : start + 7]).accepted)
    replayed = StreamProcessor.open(open_store(), None)
    assert_same_state(live.state, replayed.state)
    assert live.state.users["u0"].queries == ["query 3", "query 24"]


def test_snapshot_then_replay_of_the_tail(stores):
    events = mixed_events()
    stores.events.append(events[:25])
    first = StreamProcessor.open(stores, "state.snapshot", snapshot_every=10)
    assert snapshot_seq(first) == 25  # 25 events replayed >= 10: a snapshot was taken
    stores.events.append(events[25:])
    restored = StreamProcessor.open(stores, "state.snapshot")
    full = StreamProcessor.open(stores, None)
    assert restored.state.applied_seq == 40
    assert_same_state(restored.state, full.state)
    assert first.maybe_snapshot() is False  # first has not moved since its snapshot


def test_maybe_snapshot_respects_the_interval(stores):
    processor = StreamProcessor.open(stores, "s", snapshot_every=5)
    assert stores.artifacts.stamp("s") is None
    processor.apply_appended(stores.events.append([ev(i) for i in range(1, 4)]).accepted)
    assert snapshot_seq(processor) is None
    processor.apply_appended(stores.events.append([ev(i) for i in range(4, 6)]).accepted)
    assert snapshot_seq(processor) == 5
    processor.apply_appended(stores.events.append([ev(6)]).accepted)
    assert processor.maybe_snapshot() is False  # 1 event since the last one
    assert snapshot_seq(processor) == 5
    assert processor.maybe_snapshot(force=True) is True
    assert OnlineState.load(stores.artifacts, "s").applied_seq == 6  # forced snapshots are written before returning
    assert processor.maybe_snapshot(force=True) is False  # nothing new
    assert StreamProcessor(stores, OnlineState(), None).maybe_snapshot(force=True) is False
