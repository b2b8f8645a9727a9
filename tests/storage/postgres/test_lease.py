"""The PostgreSQL advisory-lock lease (distributed, no Redis): one holder among sessions, the
holder named by its application_name, freed when the holder's process dies."""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid

import pytest

from tastemaker.storage.postgres.lease import PostgresLease

from ..postgres_service import POSTGRES_URL, require_postgres

_ctx = mp.get_context("spawn")


@pytest.fixture
def url() -> str:
    require_postgres()
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}schema=lease_{uuid.uuid4().hex}"  # the schema only keys the lock


def test_one_session_holds_it_and_the_other_is_told_who(url: str):
    a, b = PostgresLease(url, "train", owner="node-a"), PostgresLease(url, "train", owner="node-b")
    try:
        assert a.holder() is None
        assert a.acquire() is True and a.acquire() is True
        assert b.acquire() is False and b.holder() == "node-a"
        assert a.renew() is True and b.renew() is False and b.release() is False
        assert a.release() is True and b.holder() is None
        assert b.acquire() is True and a.holder() == "node-b"
        other = PostgresLease(url, "retention")
        assert other.acquire() is True  # another name: another lock
        other.close()
    finally:
        a.close(), b.close()


def _hold(url: str, held, stop) -> None:
    lease = PostgresLease(url, "train", owner="child")
    held.put(lease.acquire())
    stop.wait()


def test_a_holder_process_that_dies_frees_it(url: str):
    held, stop = _ctx.Queue(), _ctx.Event()
    child = _ctx.Process(target=_hold, args=(url, held, stop))
    child.start()
    contender = PostgresLease(url, "train", owner="parent")
    try:
        assert held.get(timeout=60) is True
        assert contender.acquire() is False and contender.holder() == "child"
    finally:
        child.kill()
        child.join(60)
    # the server notices the closed connection and ends the session: wait on that, not a clock
    for _ in range(600):
        if contender.acquire():
            break
        time.sleep(0.05)
    assert contender.holder() == "parent"
    contender.close()


def test_docstring_examples_run():
    import doctest

    import tastemaker.storage.postgres.lease as module

    require_postgres()
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
