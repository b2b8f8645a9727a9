"""Rate-limit token buckets in Redis, shared by every worker of a deployment.

One bucket is one hash (``t``: when it was last taken from, ``n``: tokens left) changed by
one Lua script, so a take is atomic however many workers race for the same bucket: the
read, the refill and the take happen inside Redis, with no window between them where two
workers could both spend the last token. The script is sent once (``SCRIPT LOAD``) and run
by its SHA (``EVALSHA``; redis-py reloads it after a ``SCRIPT FLUSH`` or a restart), and
:meth:`RedisRateLimiter.acquire_many` pipelines several takes in one round trip.

Time is Redis's own (``TIME`` inside the script), so workers on machines whose clocks
differ share one clock. A bucket expires when it would have refilled to ``burst``: a full
bucket is the same as no bucket, so memory holds only the buckets in use.

The API's middleware calls ``acquire`` on the server's event loop: with Redis one round trip
(~0.1 ms on loopback) is spent there per limited request.
"""

from __future__ import annotations

from typing import Callable, Sequence

import redis

# KEYS[1]: the bucket. ARGV: rate, burst, now (seconds; "" = Redis's clock), most tokens to take.
# Returns "<granted> <wait seconds>": at least one token, else none and the wait for one (a string:
# a Lua number would come back truncated to an integer).
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[4])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[3])
end
local b = redis.call('HMGET', KEYS[1], 't', 'n')
local tokens = burst
if b[1] then
  tokens = tonumber(b[2]) + math.max(0, now - tonumber(b[1])) * rate
  if tokens > burst then tokens = burst end
end
local granted = 0
local wait = 0
if tokens >= 1 then
  granted = math.min(want, math.floor(tokens))
  tokens = tokens - granted
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', string.format('%.6f', now), 'n', string.format('%.17g', tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1)
return string.format('%d %.17g', granted, wait)
"""


class RedisRateLimiter:
    """:class:`tastemaker.storage.protocols.RateLimiter` in Redis.

    ``clock`` (seconds) replaces Redis's clock; tests move it, deployments leave it None.

    >>> limiter = RedisRateLimiter("redis://127.0.0.1:6379/15", prefix="doctest:rl:", clock=lambda: 100.0)
    >>> [limiter.acquire("read", "k1", 1.0, 2) for _ in range(3)]
    [0.0, 0.0, 1.0]
    >>> limiter.clear(); limiter.close()
    """

    def __init__(self, url_or_client: str | redis.Redis, prefix: str = "tastemaker:rl:",
                 clock: Callable[[], float] | None = None):
        self.client = redis.Redis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self.prefix = prefix
        self._clock = clock
        self._take = self.client.register_script(_TAKE)

    def _args(self, scope: str, key: str, rate: float, burst: float) -> tuple[list[str], list]:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a bucket needs rate > 0 and burst >= 1, not rate={rate}, burst={burst}")
        now = "" if self._clock is None else repr(float(self._clock()))
        return [f"{self.prefix}{scope}:{key}"], [repr(float(rate)), repr(float(burst)), now]

    def acquire(self, scope: str, key: str, rate: float, burst: float) -> float:
        keys, args = self._args(scope, key, rate, burst)
        return self.take_up_to(keys, args, 1)[1]

    def take_up_to(self, keys: list[str], args: list, want: int) -> tuple[int, float]:
        """Up to ``want`` tokens of the bucket ``_args`` named, in one round trip: (granted, wait)."""
        granted, wait = self._take(keys=keys, args=[*args, want]).split()
        return int(granted), float(wait)

    def acquire_many(self, requests: Sequence[tuple[str, str, float, float]]) -> list[float]:
        """Several takes (``(scope, key, rate, burst)`` each) in one pipelined round trip."""
        pipe = self.client.pipeline(transaction=False)
        for request in requests:
            keys, args = self._args(*request)
            self._take(keys=keys, args=[*args, 1], client=pipe)
        return [float(reply.split()[1]) for reply in pipe.execute()]

    def clear(self) -> None:
        """Drop every bucket under this limiter's prefix (tests, a deliberate reset)."""
        for name in self.client.scan_iter(match=f"{self.prefix}*", count=1000):
            self.client.delete(name)

    def close(self) -> None:
        self.client.close()
