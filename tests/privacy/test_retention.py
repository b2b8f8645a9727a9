"""Retention: expired events leave every file of the data dir, and online state equals a fold
of a log that never had them, including events that arrived while it was rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.features.rebuild import _decode_list, _decode_obj
from tastemaker.features.state import OnlineState
from tastemaker.privacy.retention import DAY_S
from tastemaker.privacy.scan import count_in_file
from tastemaker.schema.records import Event

T0 = 1_700_000_000.0
NOW = T0 + 10 * DAY_S
POLICY = {"view": 2.0, "search": 1.0, "*": 6.0}
TYPES = ["view", "click", "purchase", "search", "add_to_cart", "rating"]


def make_events(seed: int, n: int, start: int = 0, t0: float = T0) -> list[Event]:
    """``n`` events over 10 days; ids ``E<seq>Z`` are fixed-width, so no id contains another."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(start, start + n):
        kind = TYPES[int(rng.integers(len(TYPES)))]
        ts = t0 + k * (10 * DAY_S / 1500)
        out.append(Event(id=f"E{k:06d}Z", type=kind, user_id=f"u{int(rng.integers(30))}", item_id=f"i{int(rng.zipf(1.5)) % 200}",
                         value=float(rng.integers(1, 6)) if kind == "rating" else None, timestamp=ts,
                         query="words" if kind == "search" else None,
                         context={"device": ["mobile", "desktop"][int(rng.integers(2))]}))
    return out


def expired(e: Event) -> bool:
    return e.timestamp < NOW - POLICY.get(e.type, POLICY["*"]) * DAY_S


def columns(events: list[Event]) -> dict[str, list]:
    return {"id": [e.id for e in events], "type": [e.type for e in events], "user_id": [e.user_id for e in events],
            "item_id": [e.item_id for e in events], "value": [e.value for e in events], "ts": [e.timestamp for e in events],
            "query": [e.query for e in events], "context": [json.dumps(e.context) for e in events]}


def fold_expected(events: list[Event], live: OnlineState) -> OnlineState:
    """A fold of ``events`` alone, on an index with the live state's positions (states compare directly)."""
    state = OnlineState()
    for item_id in live.index.ids:
        state.index.add(item_id)
    for seq, e in enumerate(events, 1):
        state.apply_row((seq, e.type, e.user_id, e.session_id, e.item_id, None, e.value, e.timestamp,
                         json.dumps(e.context), e.query), _decode_list, _decode_obj)
    return state


def assert_same(live: OnlineState, expected: OnlineState) -> None:
    assert live.users.keys() == expected.users.keys()
    for uid, user in expected.users.items():
        assert live.users[uid]._slab == user._slab and live.users[uid]._queries == user._queries, uid
    at = NOW + DAY_S
    for name in ("popularity", "recent_popularity"):
        np.testing.assert_allclose(getattr(live, name).values_at(at), getattr(expected, name).values_at(at), rtol=1e-12)
    assert live.segments.keys() == expected.segments.keys()
    for a, b in ((live.covisitation, expected.covisitation),):
        a.compact(full=True)
        b.compact(full=True)
        # float32 counts: a pre-cut taken mid-fold (the rebuild prunes) may round the last bit differently
        np.testing.assert_allclose(a.base.toarray(), b.base.toarray(), rtol=1e-6)
        np.testing.assert_allclose(a.row_sums, b.row_sums, rtol=1e-6)
    assert live.clock == expected.clock


@pytest.fixture()
def engine(tmp_path: Path):
    engine = Engine(Settings(data_dir=tmp_path, durable=False, retention=POLICY))
    yield engine
    engine.close(snapshot=False)


def test_retention_deletes_everywhere_and_state_equals_a_fold_without_them(engine: Engine, tmp_path: Path):
    events = make_events(1, 1500)
    engine.stores.events.append_columns([columns(events[:900])])  # a bulk import (segments) ...
    engine.stores.events.append(events[900:])  # ... then API rows
    engine.processor.catch_up(force=True)
    engine.processor.maybe_snapshot(force=True)  # the old snapshot holds the expired events too
    gone = [e for e in events if expired(e)]
    kept = [e for e in events if not expired(e)]
    assert 300 < len(gone) < 1200

    dry = engine.retention.run(engine.retention.begin(dry_run=True, now=NOW))
    assert sum(dry.steps["events_expired"].values()) == len(gone) and engine.stores.events.count() == 1500

    arrived = make_events(2, 50, start=1500)  # events that come in while the state is rebuilt
    swap = engine.retention.on_state

    def on_state(fn):
        if arrived:
            engine.stores.events.append(arrived)
            engine.processor.catch_up(force=True)
            arrived_copy.extend(arrived)
            arrived.clear()
        return swap(fn)

    arrived_copy: list[Event] = []
    engine.retention.on_state = on_state
    job = engine.retention.run(engine.retention.begin(dry_run=False, now=NOW))
    assert job.status == "done", job.error
    assert sum(job.steps["events_deleted"].values()) == len(gone)
    assert job.steps["rows_folded_at_swap"] == 50
    assert engine.stores.events.count() == len(kept) + 50
    assert_same(engine.state, fold_expected(kept + arrived_copy, engine.state))

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert sum(count_in_file(p, [e.id.encode() for e in gone]) for p in files) == 0
    assert sum(count_in_file(p, [kept[-1].id.encode()]) for p in files) > 0

    again = engine.retention.run(engine.retention.begin(dry_run=False, now=NOW))
    assert again.steps["events_deleted"] == {} and "state_rows_folded" not in again.steps


def test_a_restart_after_retention_serves_the_same_state(engine: Engine, tmp_path: Path):
    events = make_events(3, 1500)
    engine.stores.events.append(events)
    engine.processor.catch_up(force=True)
    engine.retention.run(engine.retention.begin(dry_run=False, now=NOW))
    expected = fold_expected([e for e in events if not expired(e)], engine.state)
    restarted = Engine(Settings(data_dir=tmp_path, durable=False))  # from the snapshot written by the job
    try:
        assert_same(restarted.state, expected)
    finally:
        restarted.close(snapshot=False)


def test_an_interrupted_run_rebuilds_on_the_next(engine: Engine):
    events = make_events(4, 1500)
    engine.stores.events.append(events)
    engine.processor.catch_up(force=True)
    engine.stores.events.expire({"view": NOW - 2 * DAY_S}, None)  # deleted, then the process "died"
    engine.stores.artifacts.put("retention.pending", b"1")
    job = engine.retention.run(engine.retention.begin(dry_run=False, now=NOW))
    assert job.steps["events_deleted"].get("view", 0) == 0 and job.steps["state_rows_folded"] > 0
    assert_same(engine.state, fold_expected([e for e in events if not expired(e)], engine.state))
