"""features.popularity: forward-decayed counters and the trending z-score."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker.features.popularity import DecayedCounter, trending_scores


def test_half_life_known_answers():
    c = DecayedCounter(half_life=10.0)
    c.add(0, 1.0, ts=0.0)
    assert c.values_at(0.0)[0] == 1.0
    assert c.values_at(10.0)[0] == 0.5
    assert c.values_at(20.0)[0] == 0.25
    assert c.values_at(5.0)[0] == pytest.approx(2 ** -0.5)
    c.add(0, 2.0, ts=10.0)
    c.add(3, 4.0, ts=20.0)
    np.testing.assert_allclose(c.values_at(20.0)[:4], [0.25 + 1.0, 0.0, 0.0, 4.0])
    np.testing.assert_allclose(c.values_at(30.0)[:4], [0.625, 0.0, 0.0, 2.0])


def test_empty_counter():
    c = DecayedCounter(half_life=5.0)
    assert c.scale_at(100.0) == 0.0
    assert len(c.values_at(100.0)) == 0
    assert c.total == 0.0


def test_out_of_order_events_count_exactly():
    in_order, shuffled = DecayedCounter(60.0), DecayedCounter(60.0)
    events = [(0, 1.0, 0.0), (1, 2.0, 30.0), (0, 1.0, 60.0), (2, 3.0, 120.0)]
    for e in events:
        in_order.add(*e)
    for e in reversed(events):
        shuffled.add(*e)
    np.testing.assert_allclose(shuffled.values_at(120.0)[:3], in_order.values_at(120.0)[:3])
    np.testing.assert_allclose(in_order.values_at(120.0)[:3], [0.25 + 0.5, 2 * 2 ** -1.5, 3.0])


def test_total_is_the_sum_of_raw_counts():
    c = DecayedCounter(10.0)
    for i, ts in enumerate([0.0, 3.0, 7.0, 50.0]):
        c.add(i % 2, 1.5, ts)
    assert c.total * c.scale_at(50.0) == pytest.approx(c.values_at(50.0).sum())


def test_rebase_far_in_the_future_keeps_ratios():
    c = DecayedCounter(half_life=1.0)
    c.add(0, 1.0, ts=0.0)
    c.add(1, 3.0, ts=0.0)
    c.add(2, 1.0, ts=401.0)  # 2**401 would be near overflow territory: the counter rebases
    assert c.t0 == 401.0
    values = c.values_at(401.0)
    assert values[2] == 1.0
    assert values[0] == pytest.approx(2.0 ** -401, rel=1e-12)
    assert values[1] / values[0] == pytest.approx(3.0, rel=1e-12)
    c.add(3, 5.0, ts=802.0)  # and again
    values = c.values_at(802.0)
    assert values[3] == 5.0
    assert values[2] == pytest.approx(2.0 ** -401, rel=1e-12)
    assert values[1] / values[0] == pytest.approx(3.0, rel=1e-12)
    assert np.all(np.isfinite(c.raw))
    assert c.total * c.scale_at(802.0) == pytest.approx(values.sum())


def test_a_year_of_events_at_a_short_half_life_stays_finite():
    c = DecayedCounter(half_life=60.0)
    for day in range(365):
        c.add(day % 3, 1.0, ts=day * 86_400.0)
    values = c.values_at(364 * 86_400.0)
    assert np.all(np.isfinite(values))
    assert values[364 % 3] == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(0.1, 10), st.floats(0, 10_000)), min_size=1, max_size=30), st.randoms())
def test_order_of_arrival_does_not_matter(events, rnd):
    a, b = DecayedCounter(500.0), DecayedCounter(500.0)
    for e in events:
        a.add(*e)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    for e in shuffled:
        b.add(*e)
    now = max(ts for _, _, ts in events)
    va, vb = a.values_at(now), b.values_at(now)
    size = max(i for i, _, _ in events) + 1
    np.testing.assert_allclose(va[:size], vb[:size], rtol=1e-9)
    expected = np.zeros(size)
    for i, w, ts in events:
        expected[i] += w * 2 ** ((ts - now) / 500.0)
    np.testing.assert_allclose(va[:size], expected, rtol=1e-9)


def test_trending_scores_known_answer():
    short, long = DecayedCounter(1.0), DecayedCounter(10.0)
    for item, count in ((0, 5.0), (1, 1.0)):
        short.add(item, count, ts=0.0)
    for item, count in ((0, 10.0), (1, 100.0)):
        long.add(item, count, ts=0.0)
    scores = trending_scores(short, long, now=0.0, size=3)
    # expected recent counts: long / 10 = [1, 10]; z = (obs - exp) / sqrt(exp + 1)
    np.testing.assert_allclose(scores, [4 / math.sqrt(2), -9 / math.sqrt(11), 0.0])
    assert len(trending_scores(short, long, now=0.0, size=1)) == 1


def test_a_jump_in_rate_outranks_a_steady_popular_item():
    hour, day = 3_600.0, 86_400.0
    short, long = DecayedCounter(hour), DecayedCounter(7 * day)
    now = 14 * day

    def view(item: int, ts: float) -> None:
        short.add(item, 1.0, ts)
        long.add(item, 1.0, ts)

    for k in range(14 * 24):  # steady: 4 views an hour, every hour for two weeks
        for j in range(4):
            view(0, k * hour + j * 900.0)
    for k in range(14):  # quiet: 2 views a day ...
        view(1, k * day)
        view(1, k * day + 12 * hour)
    for j in range(30):  # ... then 30 in the last hour
        view(1, now - hour + j * 120.0)
    assert long.values_at(now)[0] > long.values_at(now)[1]  # the steady item is more popular
    scores = trending_scores(short, long, now, 2)
    assert scores[1] > scores[0]
    assert scores[1] > 3.0  # several standard deviations above its own baseline
