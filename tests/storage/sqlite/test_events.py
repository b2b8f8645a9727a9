"""storage.sqlite.events: SQLite specifics beyond the shared contract (chunked dedupe, sparse columns)."""

from __future__ import annotations

import pytest

from tastemaker.schema.records import Event
from tastemaker.storage.sqlite.database import Database
from tastemaker.storage.sqlite.events import SQLiteEventLog

CHUNK = 999  # SQLite's classic limit of host parameters per statement


@pytest.fixture
def log(tmp_path):
    db = Database(tmp_path / "t.db", durable=False)
    yield SQLiteEventLog(db)
    db.close()


def ev(i: int) -> Event:
    return Event(id=f"e{i}", type="view", user_id="u", item_id="i", timestamp=1.0 * i)


def test_dedupe_of_large_batches(log):
    n = 2 * CHUNK + 7
    log.append([ev(i) for i in range(0, 2 * n, 2)])  # even ids
    result = log.append([ev(i) for i in range(2 * n)])  # everything
    assert result.duplicates == n
    assert [e.id for _, e in result.accepted] == [f"e{i}" for i in range(1, 2 * n, 2)]
    assert [s for s, _ in result.accepted] == list(range(n + 1, 2 * n + 1))
    assert log.count() == 2 * n


def test_append_columns_leaves_absent_columns_null(log):
    log.append_columns([{"id": ["a"], "type": ["search"], "user_id": ["u"], "ts": [5.0], "query": ["q"]}])
    [(seq, event)] = log.read_since(0)
    assert event == Event(id="a", type="search", user_id="u", query="q", timestamp=5.0)


def test_append_columns_stores_json_columns_as_given(log):
    log.append_columns([{"id": ["a"], "type": ["view"], "user_id": ["u"], "ts": [5.0],
                         "item_ids": ['["x","y"]'], "context": ['{"device":"tv"}']}])
    [(_, event)] = log.read_since(0)
    assert event.item_ids == ["x", "y"] and event.context == {"device": "tv"}


def test_changed_is_true_on_first_call(log):
    assert log.changed() is True
    assert log.changed() is False
