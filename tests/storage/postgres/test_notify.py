"""storage.postgres.notify: change tokens cached until LISTEN/NOTIFY (or a local commit) says
they moved; one query per change instead of one per call."""

from __future__ import annotations

import time

from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.postgres.notify import TokenCache

from ..helpers import token_after_write
from ..postgres_service import POSTGRES_URL, PostgresOpener


def _db(opener: PostgresOpener) -> PostgresDatabase:
    sep = "&" if "?" in POSTGRES_URL else "?"
    return PostgresDatabase(f"{POSTGRES_URL}{sep}schema={opener.schema}", max_size=2)


def _listening(cache: TokenCache, name: str) -> None:
    cache.token(name)  # starts the listener
    deadline = time.monotonic() + 10
    while not cache._listening and time.monotonic() < deadline:
        time.sleep(0.001)
    assert cache._listening


def test_a_token_is_read_once_per_change_and_moves_on_another_processes_commit(opener):
    mine, other = _db(opener), _db(opener)
    try:
        reads = []
        read = mine.tokens.read
        mine.tokens.read = lambda name: reads.append(name) or read(name)
        _listening(mine.tokens, "users")
        before = mine.token("users")
        assert [mine.token("users") for _ in range(100)] == [before] * 100
        assert len(reads) <= 3  # the first reads, until the listener ran: then none per call
        with other.transaction("users") as conn:
            other.bump(conn, "users")
        moved = token_after_write(lambda: mine.token("users"), before)
        assert int.from_bytes(moved, "big") == int.from_bytes(before, "big") + 1
        settled = len(reads)
        assert mine.token("users") == moved and len(reads) == settled  # cached again
    finally:
        mine.close()
        other.close()


def test_a_processes_own_commit_moves_its_token_at_once(opener):
    db = _db(opener)
    try:
        _listening(db.tokens, "keys")
        before = db.token("keys")
        with db.transaction("keys") as conn:
            db.bump(conn, "keys")
        assert db.token("keys") != before  # no wait for its own notification
    finally:
        db.close()


def test_without_a_listener_every_call_reads(opener):
    db = _db(opener)
    try:
        reads = []
        cache = TokenCache(db.url, db.schema, lambda name: reads.append(name) or db._read_token(name))
        cache.close()  # closed before it listened: nothing is ever cached
        assert len({cache.token("users") for _ in range(3)}) == 1 and len(reads) == 3
    finally:
        db.close()
