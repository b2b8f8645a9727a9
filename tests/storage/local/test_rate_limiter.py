"""The in-process token buckets, on a clock the test moves (no wall-clock timing)."""

from __future__ import annotations

import pytest

from tastemaker.storage.local.rate_limiter import LocalRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_grants_its_burst_then_refills_at_its_rate():
    clock = Clock()
    limiter = LocalRateLimiter(clock=clock)
    assert [limiter.acquire("read", "k", 2.0, 3) for _ in range(3)] == [0.0] * 3
    assert limiter.acquire("read", "k", 2.0, 3) == pytest.approx(0.5)
    assert limiter.acquire("read", "k", 2.0, 3) == pytest.approx(0.5)  # a refusal takes nothing
    clock.now += 0.5
    assert limiter.acquire("read", "k", 2.0, 3) == 0.0
    assert limiter.acquire("read", "k", 2.0, 3) == pytest.approx(0.5)
    clock.now += 60  # refills to the burst, never above it
    assert [limiter.acquire("read", "k", 2.0, 3) for _ in range(4)][-1] == pytest.approx(0.5)


def test_buckets_are_per_scope_and_key():
    limiter = LocalRateLimiter(clock=Clock())
    assert limiter.acquire("read", "a", 1.0, 1) == 0.0
    assert limiter.acquire("read", "a", 1.0, 1) > 0
    assert limiter.acquire("read", "b", 1.0, 1) == 0.0
    assert limiter.acquire("admin", "a", 1.0, 1) == 0.0


def test_many_keys_do_not_grow_memory_past_the_cap_and_spent_buckets_are_kept():
    clock = Clock()
    limiter = LocalRateLimiter(clock=clock, max_buckets=100)
    assert [limiter.acquire("u", "spent", 0.01, 5) for _ in range(5)] == [0.0] * 5  # empty for 100 s
    for i in range(1000):  # one request each: 4 of 5 tokens left
        limiter.acquire("u", f"addr-{i}", 0.01, 5)
        clock.now += 0.05
    assert len(limiter._buckets["u"]) <= 100
    assert limiter.acquire("u", "spent", 0.01, 5) > 0  # not forgotten: the fuller buckets went first
