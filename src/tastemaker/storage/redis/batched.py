"""Shared rate limits without a Redis round trip per request: tokens are taken from the shared
bucket a batch at a time and spent in process.

``RedisRateLimiter.acquire`` is exact and one round trip (EVALSHA) per request. On the API's
event loop that round trip was the whole cost of the distributed read path: +40% CPU per
request and a p99 8x the embedded one on the shared 2-core box, where the loop waited for the
Redis process to be scheduled (bench/distributed_workers.py; with limits off the two
deployments measured the same). :class:`BatchedRateLimiter` takes up to :func:`batch_size`
tokens in one atomic script run and hands them out locally, so a worker asks Redis once per
batch.

What it keeps and what it gives up:

* the shared bucket is never overspent: every token granted was taken from it atomically;
* a worker holds at most one batch per bucket (5% of ``min(rate, burst)``; 1 for the small
  limits, which stay exact), for at most :data:`HOLD_S`; tokens unspent by then are forfeited,
  so a client at its limit may get slightly less than the limit, never more, and one worker
  may refuse a client while another still holds a few of its tokens.
"""

from __future__ import annotations

import time
from typing import Callable

from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

SHARE = 0.05  # of min(rate, burst) taken per round trip
HOLD_S = 1.0  # held tokens are forfeited after this long
MAX_HELD = 100_000  # buckets held at once; beyond, the held tokens are dropped (forfeited)

def batch_size(rate: float, burst: float) -> int:
    """Tokens taken per round trip for a bucket.

    >>> batch_size(10_000, 20_000), batch_size(500, 1000), batch_size(10, 50)
    (500, 25, 1)
    """
    return max(1, int(min(rate, burst) * SHARE))


class BatchedRateLimiter:
    """:class:`~tastemaker.storage.protocols.RateLimiter` over a :class:`RedisRateLimiter`'s
    buckets, a batch of tokens per round trip (one event loop calls it: no lock).

    >>> limiter = BatchedRateLimiter(RedisRateLimiter("redis://127.0.0.1:6379/15", prefix="doctest:brl:"))
    >>> [limiter.acquire("read", "k1", 100.0, 100) for _ in range(3)]  # one round trip: 5 tokens
    [0.0, 0.0, 0.0]
    >>> limiter.held("read", "k1")
    2
    >>> limiter.clear(); limiter.close()
    """

    def __init__(self, shared: RedisRateLimiter, clock: Callable[[], float] = time.monotonic):
        self.shared = shared
        self._clock = clock
        self._held: dict[str, list[float]] = {}  # bucket -> [tokens held, when taken]

    def acquire(self, scope: str, key: str, rate: float, burst: float) -> float:
        keys, args = self.shared._args(scope, key, rate, burst)
        bucket = keys[0]
        now = self._clock()
        held = self._held.get(bucket)
        if held is not None and held[0] >= 1 and now - held[1] < HOLD_S:
            held[0] -= 1
            return 0.0
        granted, wait = self.shared.take_up_to(keys, args, batch_size(rate, burst))
        if granted == 0:
            return wait
        if len(self._held) >= MAX_HELD:
            self._held.clear()
        self._held[bucket] = [granted - 1, now]
        return 0.0

    def held(self, scope: str, key: str) -> int:
        """Tokens of the bucket this process holds unspent (tests, metrics)."""
        held = self._held.get(f"{self.shared.prefix}{scope}:{key}")
        return int(held[0]) if held is not None else 0

    def clear(self) -> None:
        """Forget held tokens and drop every shared bucket under the prefix."""
        self._held.clear()
        self.shared.clear()

    def close(self) -> None:
        self.shared.close()
