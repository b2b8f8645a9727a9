"""Ring tables: window boundaries, late events, clock skew, exactness against brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker.features.windows import Geometry, RingTable, default_buckets


def brute(geometry: Geometry, rows, ts, values, row: int, now: float) -> float:
    """The window's definition, applied to every event: buckets in (cur - B, cur]."""
    current = np.floor(now / geometry.width)
    k = np.floor(np.asarray(ts, dtype=float) / geometry.width)
    inside = (np.asarray(rows) == row) & (k > current - geometry.buckets) & (k <= current)
    return float(np.asarray(values, dtype=float)[inside].sum())


def one(table: RingTable, row: int, now: float) -> float:
    return float(table.window_sums(np.array([row]), now)[0, 0])


def test_window_boundaries_are_bucket_edges():
    g = Geometry(60.0, 6)  # 10 s buckets
    table = RingTable(g, 1)
    table.fold(np.array([0, 0, 0]), np.array([0.0, 9.999, 10.0]), np.ones((3, 1)))
    assert one(table, 0, 59.999) == 3.0  # buckets 0..5: all three
    assert one(table, 0, 60.0) == 1.0  # bucket 0 left the window at 60: only the event at 10 s
    assert one(table, 0, 69.999) == 1.0
    assert one(table, 0, 70.0) == 0.0


def test_late_event_within_window_lands_in_its_bucket():
    table = RingTable(Geometry(60.0, 6), 1)
    table.fold(np.array([0]), np.array([100.0]), np.ones((1, 1)))
    table.fold(np.array([0]), np.array([55.0]), np.ones((1, 1)))  # 45 s late, bucket 5, still inside at 100
    assert one(table, 0, 100.0) == 2.0
    assert table.late_dropped == 0


def test_event_a_window_behind_is_dropped_and_counted():
    table = RingTable(Geometry(60.0, 6), 1)
    table.fold(np.array([0]), np.array([100.0]), np.ones((1, 1)))  # bucket 10 in slot 4
    table.fold(np.array([0]), np.array([40.0]), np.ones((1, 1)))  # bucket 4, slot 4: older than the slot's bucket
    assert table.late_dropped == 1
    assert one(table, 0, 100.0) == 1.0
    # the dropped event was outside every window read at or after the entity's newest event
    assert brute(Geometry(60.0, 6), [0, 0], [100.0, 40.0], [1, 1], 0, 100.0) == 1.0


def test_clock_skew_future_events_count_only_once_their_time_comes():
    table = RingTable(Geometry(60.0, 6), 1)
    table.fold(np.array([0, 0]), np.array([100.0, 130.0]), np.ones((2, 1)))  # a client 30 s ahead
    assert one(table, 0, 100.0) == 1.0  # read at the server's time: the future event is not yet inside
    assert one(table, 0, 130.0) == 2.0


def test_rows_are_independent_and_unknown_rows_read_zero():
    table = RingTable(Geometry(3600.0, 12), 2)
    table.fold(np.array([0, 5]), np.array([10.0, 10.0]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    sums = table.window_sums(np.array([5, 0, 1, 999]), 20.0)
    assert sums.tolist() == [[3.0, 4.0], [1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]


def test_clear_row_and_subtract():
    g = Geometry(60.0, 6)
    live, part = RingTable(g, 1), RingTable(g, 1)
    live.fold(np.array([0, 0, 1]), np.array([10.0, 20.0, 20.0]), np.ones((3, 1)))
    part.fold(np.array([0]), np.array([20.0]), np.ones((1, 1)))
    live.subtract(part, np.array([0]))
    assert one(live, 0, 20.0) == 1.0 and one(live, 1, 20.0) == 1.0
    live.clear_row(1)
    assert one(live, 1, 20.0) == 0.0


def test_default_buckets():
    assert default_buckets(60.0) == 12 and default_buckets(86_400.0) == 24


events = st.lists(st.tuples(st.integers(0, 3), st.floats(0, 2_000, allow_nan=False), st.integers(1, 9)),
                  min_size=1, max_size=120)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(events, st.integers(1, 40), st.sampled_from([(60.0, 6), (300.0, 12), (100.0, 7), (1.0, 1)]),
       st.floats(0, 300, allow_nan=False))
def test_exact_against_brute_force_in_any_order_and_batching(evs, batch, shape, after):
    """Read at or after every event, in any arrival order and any batch size, a window equals
    the brute-force sum; integer increments make the sums exact in float64."""
    g = Geometry(*shape)
    table = RingTable(g, 1)
    rows = np.array([e[0] for e in evs])
    ts = np.array([e[1] for e in evs])
    vals = np.array([[float(e[2])] for e in evs])
    for start in range(0, len(evs), batch):
        table.fold(rows[start:start + batch], ts[start:start + batch], vals[start:start + batch])
    now = float(ts.max()) + after
    for row in range(4):
        assert one(table, row, now) == brute(g, rows, ts, vals[:, 0], row, now)
