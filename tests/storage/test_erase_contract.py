"""Contract: every store that holds something about a user can ``erase_user``, and leaves
nothing of them behind: not in what it reads back, not in the bytes of its files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tastemaker.privacy.scan import scan
from tastemaker.schema.records import User
from tastemaker.storage.factory import Stores
from tastemaker.storage.protocols import ImpressionRecord

from .conftest import Backend
from .helpers import T0, columns, ev


@pytest.fixture
def backend(event_log_backend: Backend) -> Backend:
    """Every event log backend, JetStream included (its other stores are SQLite's)."""
    return event_log_backend


GONE = "person-7f3a"  # a distinctive id: the byte scan must not match anything else


def _fill(stores: Stores) -> None:
    """The user in API rows, in the middle of a segment, alone in a segment, and as the newest event."""
    stores.events.append([ev(1, user_id="a"), ev(2, user_id=GONE, query="private words"), ev(3, user_id="b")])
    stores.events.append_columns([columns(["c1", "c2", "c3"], user_id=["a", GONE, "b"])])
    stores.events.append_columns([columns(["d1", "d2"], user_id=[GONE, GONE])])
    stores.events.append([ev(4, user_id="a"), ev(5, id=f"{GONE}-last", user_id=GONE)])


def test_event_log_erase_user_leaves_the_others_in_order(stores: Stores, other_stores: Stores):
    _fill(stores)
    before = [r for r in stores.events.read_rows_since(0) if r[2] != GONE]
    assert len(stores.events.user_rows(GONE)) == 5
    last = stores.events.last_seq()
    assert stores.events.erase_user(GONE) == 5
    assert stores.events.user_rows(GONE) == []
    assert other_stores.events.read_rows_since(0) == before
    assert stores.events.count() == len(before)
    # reads that start inside a rewritten segment, in small chunks, see the same rows
    chunks, seq = [], 0
    while rows := stores.events.read_rows_since(seq, limit=1):
        chunks += rows
        seq = rows[-1][0]
    assert chunks == before
    # the newest seq was the user's: it is not given out again
    result = stores.events.append([ev(9, user_id="c")])
    assert result.accepted[0][0] == last + 1
    assert stores.events.erase_user(GONE) == 0


def test_erased_event_ids_can_be_logged_again(stores: Stores):
    """The idempotency index forgets them (ids may embed the user id); tombstones refuse replays upstream."""
    _fill(stores)
    stores.events.erase_user(GONE)
    assert len(stores.events.append([ev(5, id=f"{GONE}-last", user_id="x")]).accepted) == 1


def test_impressions_users_keys_erase_user(stores: Stores):
    rec = ImpressionRecord("r1", "home", GONE, T0, ["i1"], np.zeros((1, 1)), ("f",))
    stores.impressions.append([rec, ImpressionRecord("r2", "home", "a", T0, ["i1"])])
    assert stores.impressions.erase_user(GONE) == 1
    assert [r.user_id for r in stores.impressions.read()] == ["a"]
    stores.users.upsert([User(id=GONE, traits={"name": "x"}), User(id="a")])
    assert stores.users.erase_user(GONE) == 1
    assert stores.users.get(GONE) is None and stores.users.get("a") is not None
    assert all(uid != GONE for uid, _ in stores.users.changes_since(0)[1])
    assert stores.keys.erase_user(GONE) == 0


def test_erased_users_hold_digests(stores: Stores, other_stores: Stores):
    assert stores.erased.add("d" * 64) is True
    assert stores.erased.add("d" * 64) is False
    assert other_stores.erased.contains("d" * 64) and not other_stores.erased.contains("e" * 64)
    assert other_stores.erased.all() == {"d" * 64} and other_stores.erased.count() == 1


def _left(backend, tmp_path: Path) -> dict:
    """Where the id still is: the files under tmp_path and, on PostgreSQL, the server's files of
    the test's schema (its shared stores are not under tmp_path)."""
    found = dict(scan(tmp_path, GONE))
    if backend.name == "postgres":
        found |= backend.opener.scan(GONE)
    return found


def test_nothing_left_in_the_files(backend, stores: Stores, tmp_path: Path):
    if backend.name == "jetstream":
        pytest.skip("a stream's files are the NATS server's: tests/storage/nats/test_events.py scans them")
    _fill(stores)
    stores.impressions.append([ImpressionRecord("r1", "home", GONE, T0, ["i1"])])
    stores.users.upsert([User(id=GONE)])
    stores.users.delete(GONE)  # a plain delete keeps the id as a tombstone row...
    assert _left(backend, tmp_path)
    stores.events.erase_user(GONE)
    stores.impressions.erase_user(GONE)
    stores.users.erase_user(GONE)  # ...an erasure does not
    stores.reclaim()
    assert _left(backend, tmp_path) == {}
    assert stores.events.count() == 5
