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


def test_changed_sees_another_writers_commit_and_nothing_else(log, tmp_path):
    other = SQLiteEventLog(Database(tmp_path / "t.db", durable=False))  # another connection and map
    log.changed()
    assert log.changed() is False
    other.append([ev(1)])
    assert log.changed() is True
    assert log.changed() is False
    log.append([ev(2)])  # a connection's own commits are not news to it (as with data_version)
    assert log.changed() is False
    other.db.close()


# == segments: bulk imports stored as Arrow blobs ========================================


def cols(ids: list[str], **extra: list) -> dict[str, list]:
    n = len(ids)
    return {"id": ids, "type": ["view"] * n, "user_id": ["u"] * n, "ts": [1.0] * n, **extra}


def table(log: SQLiteEventLog, sql: str) -> list[tuple]:
    return log.db.conn().execute(sql).fetchall()


def test_imports_become_segments_and_ids(log):
    log.append([ev(0)])
    assert log.append_columns([cols(["a", "b", "c"]), cols(["d", "e"])]) == (5, 0)
    assert table(log, "SELECT first_seq, last_seq, n FROM event_segments ORDER BY first_seq") == [(2, 4, 3), (5, 6, 2)]
    assert table(log, "SELECT seq, id FROM event_rows") == [(1, "e0")]  # only the API append is a row
    assert sorted(table(log, "SELECT seq, id FROM events")) == [(1, "e0"), (2, "a"), (3, "b"), (4, "c"), (5, "d"), (6, "e")]


def test_a_batch_with_duplicates_keeps_contiguous_seqs(log):
    log.append([ev(1), ev(3)])
    assert log.append_columns([cols(["e0", "e1", "e2", "e3", "e2", "e4"])]) == (3, 3)
    assert table(log, "SELECT first_seq, last_seq, n FROM event_segments") == [(3, 5, 3)]
    assert [(s, e.id) for s, e in log.read_since(0)] == [(1, "e1"), (2, "e3"), (3, "e0"), (4, "e2"), (5, "e4")]


def test_ids_in_random_order_keep_file_order(log):
    ids = [f"id-{(i * 7919) % 1000:04d}" for i in range(1000)]  # a permutation, far from sorted
    assert log.append_columns([cols(ids)]) == (1000, 0)
    assert [e.id for _, e in log.read_since(0, limit=2000)] == ids
    assert dict(table(log, "SELECT id, seq FROM events")) == {id_: i + 1 for i, id_ in enumerate(ids)}


def test_large_batches_are_split_into_several_segments(log, monkeypatch):
    from tastemaker.storage.sqlite import segments

    monkeypatch.setattr(segments, "SEGMENT_ROWS", 4)
    assert log.append_columns([cols([f"x{i}" for i in range(10)])]) == (10, 0)
    assert table(log, "SELECT first_seq, last_seq, n FROM event_segments ORDER BY first_seq") == [(1, 4, 4), (5, 8, 4), (9, 10, 2)]
    assert [r[0] for r in log.read_rows_since(2, limit=7)] == [3, 4, 5, 6, 7, 8, 9]


def test_successive_chunks_decode_a_segment_once(log, monkeypatch):
    from tastemaker.storage.sqlite import segments

    log.append_columns([cols([f"x{i}" for i in range(100)])])
    decoded = []
    real = segments.decode
    monkeypatch.setattr(segments, "decode", lambda body: decoded.append(1) or real(body))
    seq, seen = 0, []
    while rows := log.read_rows_since(seq, limit=7):
        seen += [r[0] for r in rows]
        seq = rows[-1][0]
    assert seen == list(range(1, 101))
    assert len(decoded) == 1


def test_segment_rows_have_the_row_layout(log):
    log.append_columns([cols(["a"], session_id=["s"], item_id=["i"], item_ids=['["x","y"]'], value=[2.5],
                             context=['{"device":"tv"}'], query=["q"], recommendation_id=["r"],
                             properties=['{"k":1}'], schema_version=[2])])
    assert log.read_rows_since(0) == [(1, "view", "u", "s", "i", '["x","y"]', 2.5, 1.0, '{"device":"tv"}', "q")]
    assert log.read_since(0) == [(1, Event(id="a", type="view", user_id="u", session_id="s", item_id="i", item_ids=["x", "y"],
                                          value=2.5, query="q", context={"device": "tv"}, timestamp=1.0,
                                          recommendation_id="r", properties={"k": 1}, schema_version=2))]


def test_ids_with_nul_characters_are_deduplicated(log):
    # json_each (the fast path for claiming ids) cuts text at NUL; these take the slow path.
    nul = ["a\x00b", "a\x00c", "a"]
    assert log.append_columns([cols(nul)]) == (3, 0)
    assert log.append([Event(id="a\x00c", type="view", user_id="u", timestamp=1.0), ev(1)]).duplicates == 1
    assert log.append_columns([cols(["a\x00b", "a\x00d"])]) == (1, 1)
    assert [e.id for _, e in log.read_since(0)] == ["a\x00b", "a\x00c", "a", "e1", "a\x00d"]


def test_arrow_columns_are_accepted(log):
    import pyarrow as pa

    assert log.append_columns([{"id": pa.array(["a", "b"]), "type": pa.array(["view", "view"]),
                                "user_id": pa.chunked_array([["u", "v"]]), "ts": pa.array([1, 2], pa.int64())}]) == (2, 0)
    assert [(e.id, e.user_id, e.timestamp) for _, e in log.read_since(0)] == [("a", "u", 1.0), ("b", "v", 2.0)]


def test_numbers_in_text_columns_are_stored_as_text(log):
    log.append_columns([cols(["a"], session_id=[7])])  # what SQLite's TEXT affinity did
    assert log.read_since(0)[0][1].session_id == "7"


@pytest.mark.parametrize("batch", [
    {"id": ["a"], "type": ["view"], "user_id": ["u"]},  # no ts
    {"id": ["a", "b"], "type": ["view", None], "user_id": ["u", "u"], "ts": [1.0, 1.0]},
    cols(["a"], colour=["red"]),
], ids=["missing-required", "null-required", "unknown-column"])
def test_invalid_batches_write_nothing(log, batch):
    import sqlite3

    with pytest.raises((sqlite3.IntegrityError, ValueError)):
        log.append_columns([cols(["ok"]), batch])
    assert log.count() == 0 and log.last_seq() == 0
    assert table(log, "SELECT COUNT(*) FROM events") == [(0,)]


def test_reads_inside_an_open_transaction(log):
    log.append_columns([cols(["a", "b"])])
    with pytest.raises(ZeroDivisionError), log.db.transaction() as conn:
        conn.execute("INSERT INTO event_rows (seq, id, type, user_id, ts) VALUES (3, 'c', 'view', 'u', 1.0)")
        assert [r[0] for r in log.read_rows_since(0)] == [1, 2, 3]  # sees the caller's uncommitted row
        assert conn.in_transaction  # and did not end the caller's transaction
        1 / 0
    assert [r[0] for r in log.read_rows_since(0)] == [1, 2]
