"""The rate limiter contract: every RateLimiter backend (in process, Redis) counts the same
buckets the same way, on a clock the test moves (no wall-clock timing)."""

from __future__ import annotations

import uuid
from typing import Callable, Iterator

import pytest

from tastemaker.storage.local.rate_limiter import LocalRateLimiter
from tastemaker.storage.protocols import RateLimiter

from . import services


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _redis(clock: Callable[[], float]) -> Iterator[RateLimiter]:
    services.require(services.REDIS_URL, "Redis")
    from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

    limiter = RedisRateLimiter(services.REDIS_URL, prefix=f"test:{uuid.uuid4().hex}:", clock=clock)
    yield limiter
    limiter.clear()
    limiter.close()


def _local(clock: Callable[[], float]) -> Iterator[RateLimiter]:
    yield LocalRateLimiter(clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["local", "redis"])
def limiter(request, clock: Clock) -> Iterator[RateLimiter]:
    yield from {"local": _local, "redis": _redis}[request.param](clock)


def test_a_bucket_grants_its_burst_then_refills_at_its_rate(limiter: RateLimiter, clock: Clock):
    assert [limiter.acquire("read", "k", 2.0, 3) for _ in range(3)] == [0.0] * 3
    assert limiter.acquire("read", "k", 2.0, 3) == pytest.approx(0.5)
    assert limiter.acquire("read", "k", 2.0, 3) == pytest.approx(0.5)  # a refusal takes nothing
    clock.now += 0.5
    assert limiter.acquire("read", "k", 2.0, 3) == 0.0
    assert limiter.acquire("read", "k", 2.0, 3) == pytest.approx(0.5)
    clock.now += 60  # refills to the burst, never above it
    assert [limiter.acquire("read", "k", 2.0, 3) for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.5)]


def test_partial_refill_tells_the_remaining_wait(limiter: RateLimiter, clock: Clock):
    assert limiter.acquire("read", "k", 4.0, 1) == 0.0
    clock.now += 0.1  # 0.4 of a token back: 0.15 s to go
    assert limiter.acquire("read", "k", 4.0, 1) == pytest.approx(0.15, abs=1e-6)


def test_buckets_are_per_scope_and_key(limiter: RateLimiter):
    assert limiter.acquire("read", "a", 1.0, 1) == 0.0
    assert limiter.acquire("read", "a", 1.0, 1) > 0
    assert limiter.acquire("read", "b", 1.0, 1) == 0.0
    assert limiter.acquire("admin", "a", 1.0, 1) == 0.0


def test_a_long_run_grants_burst_plus_rate_times_time(limiter: RateLimiter, clock: Clock):
    """8 tries a second for 20 s at 2/s with a burst of 5 (steps of 1/8 s: exact in binary)."""
    granted = 0
    for _ in range(160):
        granted += limiter.acquire("read", "k", 2.0, 5) == 0.0
        clock.now += 0.125
    assert granted == 5 + int(2.0 * 159 * 0.125)  # the burst, then one per refilled token up to the last try
