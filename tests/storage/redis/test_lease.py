"""The Redis lease: two processes race for it and exactly one wins; it outlives its ttl while
its holder renews it, and frees itself when the holder dies; a stale holder cannot touch the
next holder's lease."""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid

import pytest

from .. import services

_ctx = mp.get_context("spawn")  # a fresh interpreter: nothing shared with the test but Redis


@pytest.fixture
def name() -> str:
    services.require(services.REDIS_URL, "Redis")
    return f"test-{uuid.uuid4().hex}"


def _lease(name: str, ttl_s: float):
    from tastemaker.storage.redis.lease import RedisLease

    return RedisLease(services.REDIS_URL, name, ttl_s=ttl_s)


def _racer(name: str, go, done, results) -> None:
    lease = _lease(name, 30.0)
    go.wait()
    results.put(lease.acquire())
    done.wait()
    lease.release()


def _holder(name: str, ttl_s: float, reports) -> None:
    lease = _lease(name, ttl_s)
    reports.put(("token", lease.acquire(), lease.token))
    renewals = 0
    while True:  # renew every fifth of the ttl until killed
        time.sleep(ttl_s / 5)
        renewals += 1
        reports.put(("renewed", lease.renew(), renewals))


def test_two_processes_race_and_exactly_one_wins(name: str):
    for round_ in range(3):
        go, done, results = _ctx.Event(), _ctx.Event(), _ctx.Queue()
        procs = [_ctx.Process(target=_racer, args=(f"{name}-{round_}", go, done, results)) for _ in range(2)]
        for p in procs:
            p.start()
        go.set()
        outcome = sorted(results.get(timeout=60) for _ in procs)
        done.set()
        for p in procs:
            p.join(60)
        assert outcome == [False, True]


def test_the_lease_outlives_its_ttl_while_renewed_and_frees_itself_when_the_holder_dies(name: str):
    ttl_s = 0.5
    reports = _ctx.Queue()
    holder = _ctx.Process(target=_holder, args=(name, ttl_s, reports))
    holder.start()
    try:
        kind, held, token = reports.get(timeout=60)
        assert (kind, held) == ("token", True)
        contender = _lease(name, ttl_s)
        while True:  # the holder renewed across 2 ttls: the lease is still its own
            kind, renewed, count = reports.get(timeout=60)
            assert renewed is True
            if count >= 10:
                break
        assert contender.acquire() is False
        assert contender.holder() == token
    finally:
        holder.kill()
        holder.join(60)
    # Dead: nobody renews. The key's expiry (at most one ttl away) frees it; poll in ttl/10 steps.
    remaining_ms = contender.client.pttl(contender.key)
    assert 0 < remaining_ms <= ttl_s * 1000
    for _ in range(100):
        if contender.acquire():
            break
        time.sleep(ttl_s / 10)
    assert contender.holder() == contender.token
    assert contender.release() is True


def test_a_stale_holder_cannot_extend_or_release_the_next_holders_lease(name: str):
    first, second = _lease(name, 30.0), _lease(name, 30.0)
    assert first.acquire() is True
    first.client.delete(first.key)  # its lease expired (as after a long pause)
    assert second.acquire() is True
    assert first.renew() is False and first.release() is False
    assert second.holder() == second.token
    assert first.acquire() is False
    assert second.release() is True and second.holder() is None


def test_a_bad_ttl_is_refused():
    with pytest.raises(ValueError, match="ttl_s > 0"):
        _lease("x", 0.0)
