"""What the Redis rate limiter adds to the contract: one bucket shared by every worker,
taken atomically however many race for it, on Redis's own clock, forgotten once full."""

from __future__ import annotations

import threading
import uuid
from typing import Iterator

import pytest

from .. import services

pytestmark = pytest.mark.usefixtures("redis_up")


@pytest.fixture
def redis_up() -> None:
    services.require(services.REDIS_URL, "Redis")


@pytest.fixture
def prefix() -> Iterator[str]:
    from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

    name = f"test:{uuid.uuid4().hex}:"
    yield name
    RedisRateLimiter(services.REDIS_URL, prefix=name).clear()


def _limiter(prefix: str, **kwargs):
    from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

    return RedisRateLimiter(services.REDIS_URL, prefix=prefix, **kwargs)


def test_workers_share_one_bucket(prefix: str):
    a, b = _limiter(prefix), _limiter(prefix)  # two workers: two connections, no shared memory
    # 0.001 tokens a second: nothing refills during the test, whatever the machine's speed
    taken = [w.acquire("read", "key", 0.001, 4) for w in (a, b, a, b, a, b)]
    assert taken[:4] == [0.0] * 4 and all(t > 900 for t in taken[4:])


def test_racing_threads_never_overspend(prefix: str):
    """16 threads x 50 takes on a bucket of 100 that does not refill: exactly 100 granted."""
    limiters = [_limiter(prefix) for _ in range(16)]
    granted = [0] * 16
    start = threading.Barrier(16)

    def run(i: int) -> None:
        start.wait()
        for _ in range(50):
            granted[i] += limiters[i].acquire("write", "hot", 0.001, 100) == 0.0

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 100


def test_acquire_many_is_one_pipelined_round_trip_with_the_same_answers(prefix: str):
    limiter = _limiter(prefix, clock=lambda: 1000.0)
    waits = limiter.acquire_many([("read", "k", 1.0, 2)] * 3 + [("read", "other", 1.0, 2)])
    assert waits == [0.0, 0.0, pytest.approx(1.0), 0.0]


def test_a_bucket_expires_when_it_would_be_full(prefix: str):
    limiter = _limiter(prefix, clock=lambda: 1000.0)
    limiter.acquire("read", "k", 10.0, 5)  # 1 token short: full again in 100 ms
    ttl = limiter.client.pttl(f"{prefix}read:k")
    assert 0 < ttl <= 101


def test_the_script_survives_a_script_flush(prefix: str):
    limiter = _limiter(prefix, clock=lambda: 1000.0)
    assert limiter.acquire("read", "k", 1.0, 2) == 0.0
    limiter.client.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT, the client reloads
    assert limiter.acquire("read", "k", 1.0, 2) == 0.0
    assert limiter.acquire("read", "k", 1.0, 2) == pytest.approx(1.0)


def test_redis_clock_is_used_by_default(prefix: str):
    limiter = _limiter(prefix)
    assert limiter.acquire("read", "k", 0.001, 1) == 0.0
    assert limiter.acquire("read", "k", 0.001, 1) == pytest.approx(1000.0, abs=1.0)


@pytest.mark.parametrize("rate, burst", [(0.0, 1.0), (-1.0, 5.0), (1.0, 0.5)])
def test_bad_bucket_is_refused(prefix: str, rate: float, burst: float):
    with pytest.raises(ValueError, match="rate > 0 and burst >= 1"):
        _limiter(prefix).acquire("read", "k", rate, burst)
