"""A lease in Redis: at most one holder at a time of a named job (who retrains, who re-cuts).

``SET key token NX PX ttl`` takes it only when nobody holds it; the holder renews it before
the ttl runs out (a Lua compare-and-extend: only while the key still holds its own token)
and gives it back with a Lua compare-and-delete, so a holder whose lease already expired
and was taken by another can neither extend nor delete the new holder's. A holder that
dies stops renewing, and the lease is free ``ttl`` later at the latest.

What the lease cannot do alone: stop a holder that stalls past its ttl (a GC pause, a
frozen VM) from finishing work after another took over. Work that publishes (a model
version) should check :meth:`RedisLease.renew` right before it publishes.
"""

from __future__ import annotations

import uuid

import redis

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLease:
    """One process's handle on the lease ``name`` (its own random token).

    >>> a = RedisLease("redis://127.0.0.1:6379/15", "doctest-train", ttl_s=5)
    >>> b = RedisLease("redis://127.0.0.1:6379/15", "doctest-train", ttl_s=5)
    >>> a.acquire(), b.acquire(), a.renew(), b.release(), a.release(), b.acquire()
    (True, False, True, False, True, True)
    >>> b.release()
    True
    """

    def __init__(self, url_or_client: str | redis.Redis, name: str, ttl_s: float = 30.0,
                 prefix: str = "tastemaker:lease:", owner: str = ""):
        if ttl_s <= 0:
            raise ValueError(f"a lease needs ttl_s > 0, not {ttl_s}")
        self.client = redis.Redis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self.key = f"{prefix}{name}"
        self.ttl_ms = max(1, int(ttl_s * 1000))
        # the token names its owner (host:pid), so a refused contender can say who holds it
        self.token = f"{owner} #{uuid.uuid4().hex[:16]}" if owner else uuid.uuid4().hex
        self._extend = self.client.register_script(_EXTEND)
        self._release = self.client.register_script(_RELEASE)

    def acquire(self) -> bool:
        """Take the lease if nobody holds it (or renew it if we do); True when we hold it now."""
        if self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        return self.renew()

    def renew(self) -> bool:
        """Push the expiry ``ttl`` ahead; False when the lease is no longer ours."""
        return bool(self._extend(keys=[self.key], args=[self.token, self.ttl_ms]))

    def release(self) -> bool:
        """Give the lease back; False when it was not ours (expired, or taken by another)."""
        return bool(self._release(keys=[self.key], args=[self.token]))

    def holder(self) -> str | None:
        """The token of whoever holds the lease now (None: free); it starts with their ``owner``."""
        value = self.client.get(self.key)
        return value.decode() if value is not None else None
