"""Contract: ``EventLog.expire`` deletes every event older than its type's cut-off, wherever
it is kept (API rows, bulk-import segments, the id index), keeps the rest in log order, and
leaves no expired event id in the files once the space is reclaimed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tastemaker.privacy.scan import count_in_file
from tastemaker.storage.factory import Stores

from .conftest import Backend
from .helpers import T0, columns, ev


@pytest.fixture
def backend(event_log_backend: Backend) -> Backend:
    """Every event log backend, JetStream included (its other stores are SQLite's)."""
    return event_log_backend


DAY = 86_400.0


def _fill(stores: Stores) -> None:
    """Old and new views and searches, in API rows and in segments (one left empty by expiry)."""
    stores.events.append([ev("old-view-1", timestamp=T0 - 100 * DAY), ev("new-view-1", timestamp=T0),
                          ev("old-search-1", type="search", query="q", item_id=None, timestamp=T0 - 40 * DAY)])
    stores.events.append_columns([columns(["old-view-2", "old-search-2", "old-buy-2"],
                                          type=["view", "search", "purchase"],
                                          ts=[T0 - 100 * DAY, T0 - 40 * DAY, T0 - 1000 * DAY])])
    stores.events.append_columns([columns(["old-view-3", "old-view-4"], ts=[T0 - 91 * DAY, T0 - 95 * DAY])])
    stores.events.append([ev("new-view-5", timestamp=T0 - DAY)])


CUTOFFS = {"view": T0 - 90 * DAY, "search": T0 - 30 * DAY}


def test_expire_dry_run_counts_and_changes_nothing(stores: Stores):
    _fill(stores)
    before = stores.events.read_rows_since(0)
    assert stores.events.expire(CUTOFFS, T0 - 730 * DAY, dry_run=True) == {"view": 4, "search": 2, "purchase": 1}
    assert stores.events.read_rows_since(0) == before


def test_expire_keeps_the_others_in_order(stores: Stores, other_stores: Stores):
    _fill(stores)
    last = stores.events.last_seq()
    kept = [r for r in stores.events.read_rows_since(0) if r[0] in (2, 9)]
    assert stores.events.expire(CUTOFFS, T0 - 730 * DAY) == {"view": 4, "search": 2, "purchase": 1}
    assert other_stores.events.read_rows_since(0) == kept
    assert stores.events.count() == len(kept) == 2
    chunks, seq = [], 0  # reads that start inside a rewritten segment see the same rows
    while rows := stores.events.read_rows_since(seq, limit=1):
        chunks += rows
        seq = rows[-1][0]
    assert chunks == kept
    assert stores.events.append([ev(99)]).accepted[0][0] == last + 1  # seqs are not reused
    assert stores.events.expire(CUTOFFS, T0 - 730 * DAY) == {}


def test_no_default_keeps_other_types(stores: Stores):
    _fill(stores)
    assert stores.events.expire({"search": T0 - 30 * DAY}, None) == {"search": 2}
    assert {r[1] for r in stores.events.read_rows_since(0)} == {"view", "purchase"}


def test_expired_ids_leave_the_files(backend: Backend, stores: Stores, tmp_path: Path):
    if backend.name in ("jetstream", "postgres"):  # the distributed deployment's log is a JetStream stream
        pytest.skip("a stream's files are the NATS server's: tests/storage/nats/test_events.py scans them")
    _fill(stores)
    stores.events.expire(CUTOFFS, T0 - 730 * DAY)
    stores.reclaim()
    needles = [b"old-view-", b"old-search-", b"old-buy-"]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and sum(count_in_file(p, needles) for p in files) == 0
    assert sum(count_in_file(p, [b"new-view-1"]) for p in files) > 0  # the scan does see kept ids
