"""storage.redis.batched: tokens taken from the shared Redis bucket a batch per round trip and
spent in process; the shared bucket is never overspent, small limits stay exact, held tokens
are forfeited after HOLD_S."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from .. import services


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def prefix() -> Iterator[str]:
    from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

    services.require(services.REDIS_URL, "Redis")
    name = f"test:{uuid.uuid4().hex}:"
    yield name
    RedisRateLimiter(services.REDIS_URL, prefix=name).clear()


def _batched(prefix: str, redis_clock: Clock, local_clock: Clock | None = None):
    from tastemaker.storage.redis.batched import BatchedRateLimiter
    from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

    shared = RedisRateLimiter(services.REDIS_URL, prefix=prefix, clock=redis_clock)
    return BatchedRateLimiter(shared, clock=local_clock or Clock())


def test_one_round_trip_takes_a_batch_the_shared_bucket_loses_exactly_that(prefix):
    from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

    clock = Clock()
    limiter = _batched(prefix, clock)
    assert limiter.acquire("read", "k", 100.0, 100) == 0.0
    assert limiter.held("read", "k") == 4  # a batch of 5 (5% of 100), one spent
    exact = RedisRateLimiter(services.REDIS_URL, prefix=prefix, clock=clock)
    assert sum(exact.acquire("read", "k", 100.0, 100) == 0.0 for _ in range(100)) == 95


def test_workers_together_never_overspend_the_shared_bucket(prefix):
    clock = Clock()  # no refill: the bucket holds its burst once
    workers = [_batched(prefix, clock) for _ in range(3)]
    granted = sum(w.acquire("read", "k", 100.0, 100) == 0.0 for _ in range(60) for w in workers)
    assert granted == 100
    assert all(w.acquire("read", "k", 100.0, 100) > 0 for w in workers)  # then refused with a wait


def test_small_limits_stay_exact(prefix):
    clock = Clock()
    limiter = _batched(prefix, clock)
    assert [limiter.acquire("login", "k", 10.0, 3) for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert limiter.held("login", "k") == 0
    assert limiter.acquire("login", "k", 10.0, 3) == pytest.approx(0.1)  # one token at 10/s


def test_held_tokens_are_forfeited_after_the_hold(prefix):
    from tastemaker.storage.redis.batched import HOLD_S

    redis_clock, local = Clock(), Clock()
    limiter = _batched(prefix, redis_clock, local)
    limiter.acquire("read", "k", 100.0, 100)
    assert limiter.held("read", "k") == 4
    local.now += HOLD_S + 0.01
    limiter.acquire("read", "k", 100.0, 100)  # a new batch from Redis: the 4 held are gone
    assert limiter.held("read", "k") == 4
    from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

    exact = RedisRateLimiter(services.REDIS_URL, prefix=prefix, clock=redis_clock)
    assert sum(exact.acquire("read", "k", 100.0, 100) == 0.0 for _ in range(100)) == 90
