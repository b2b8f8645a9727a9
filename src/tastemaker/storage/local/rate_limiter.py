"""Rate-limit token buckets in this process's memory (the embedded deployment's backend).

Called on the event loop for every request, so a take is a dict lookup and some float
arithmetic on a two-slot list, with no object made when it is granted. Buckets live in one
dict per limit; a full bucket is the same as no bucket, so when a dict reaches
``max_buckets`` (many client addresses) the full ones are dropped first, then the fullest.
"""

from __future__ import annotations

import time
from typing import Callable


class LocalRateLimiter:
    """:class:`tastemaker.storage.protocols.RateLimiter` in memory (one event loop: no lock).

    >>> now = [0.0]
    >>> limiter = LocalRateLimiter(clock=lambda: now[0])
    >>> [limiter.acquire("read", "k1", 1.0, 2) for _ in range(3)]
    [0.0, 0.0, 1.0]
    >>> now[0] = 0.5; limiter.acquire("read", "k1", 1.0, 2)
    0.5
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000):
        self._clock = clock
        self._max = max_buckets
        self._buckets: dict[str, dict[str, list[float]]] = {}

    def acquire(self, scope: str, key: str, rate: float, burst: float) -> float:
        now = self._clock()
        buckets = self._buckets.get(scope)
        if buckets is None:
            buckets = self._buckets[scope] = {}
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self._max:
                self._prune(buckets, now, rate, burst)
            buckets[key] = [burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * rate
        if tokens > burst:
            tokens = burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / rate

    def _prune(self, buckets: dict[str, list[float]], now: float, rate: float, burst: float) -> None:
        """Drop the buckets that have refilled (they hold nothing a new bucket would not), then,
        if that is not enough, the fullest quarter: memory stays bounded whatever the number of
        client addresses, and the spent buckets (a flood's own) are the last to go.
        (All buckets of one scope share its rate and burst.)"""
        level = {k: tokens + (now - ts) * rate for k, (tokens, ts) in buckets.items()}
        for key, tokens in level.items():
            if tokens >= burst:
                del buckets[key]
        if len(buckets) >= self._max:
            for key in sorted(buckets, key=level.__getitem__, reverse=True)[: max(1, self._max // 4)]:
                del buckets[key]
