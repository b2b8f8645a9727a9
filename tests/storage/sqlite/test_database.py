"""storage.sqlite.database: WAL, durable commits, a connection per thread, all-or-nothing transactions."""

from __future__ import annotations

import errno
import os
import sqlite3
import threading

import pytest

from tastemaker.storage.protocols import StorageFull
from tastemaker.storage.sqlite.database import Database

from ...small_fs import fill, small_filesystem


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "sub" / "t.db", durable=False)
    yield database
    database.close()


def test_creates_parent_dirs_and_wal(db, tmp_path):
    assert (tmp_path / "sub" / "t.db").exists()
    assert db.conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.conn().execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"events", "items", "users", "api_keys", "event_schemas"} <= tables


@pytest.mark.parametrize(("durable", "level"), [(True, 2), (False, 1)])  # FULL, NORMAL
def test_durable_means_synchronous_full(tmp_path, durable, level):
    database = Database(tmp_path / "t.db", durable=durable)
    try:
        assert database.conn().execute("PRAGMA synchronous").fetchone()[0] == level
    finally:
        database.close()


def test_transaction_commits_or_rolls_back(db):
    with db.transaction() as conn:
        conn.execute("INSERT INTO api_keys(key_id, name, scopes, secret_hash, created_at) VALUES ('a','n','s','h',1)")
    with pytest.raises(ZeroDivisionError):
        with db.transaction() as conn:
            conn.execute("INSERT INTO api_keys(key_id, name, scopes, secret_hash, created_at) VALUES ('b','n','s','h',1)")
            1 / 0
    assert [r[0] for r in db.conn().execute("SELECT key_id FROM api_keys")] == ["a"]
    assert db.conn().in_transaction is False


def test_one_connection_per_thread(db):
    mine = db.conn()
    assert db.conn() is mine
    other = []
    thread = threading.Thread(target=lambda: other.append(db.conn()))
    thread.start()
    thread.join()
    assert other[0] is not mine


def test_data_version_changes_only_for_other_connections(db, tmp_path):
    before = db.data_version()
    with db.transaction() as conn:
        conn.execute("INSERT INTO api_keys(key_id, name, scopes, secret_hash, created_at) VALUES ('a','n','s','h',1)")
    assert db.data_version() == before  # SQLite semantics: own commits do not count
    other = Database(tmp_path / "sub" / "t.db", durable=False)
    try:
        with other.transaction() as conn:
            conn.execute("INSERT INTO api_keys(key_id, name, scopes, secret_hash, created_at) VALUES ('b','n','s','h',1)")
        assert db.data_version() != before
    finally:
        other.close()


def test_close_then_reuse_opens_a_new_connection(db):
    first = db.conn()
    db.close()
    with pytest.raises(Exception):
        first.execute("SELECT 1")
    assert db.conn().execute("SELECT 1").fetchone() == (1,)


LEGACY_EVENTS = """CREATE TABLE events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, user_id TEXT NOT NULL, session_id TEXT,
    item_id TEXT, item_ids TEXT, value REAL, query TEXT, context TEXT, ts REAL NOT NULL, recommendation_id TEXT,
    properties TEXT, schema_version INTEGER)"""


def test_a_file_with_whole_event_rows_in_events_is_migrated(tmp_path):
    import sqlite3

    from tastemaker.schema.records import Event
    from tastemaker.storage.sqlite.events import SQLiteEventLog

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(LEGACY_EVENTS)
    old.executemany("INSERT INTO events (seq, id, type, user_id, item_id, ts) VALUES (?, ?, 'view', 'u', 'i', 1.0)",
                    [(1, "a"), (2, "b")])
    old.commit()
    old.close()

    for _ in range(2):  # the second open finds nothing to do
        database = Database(path, durable=False)
        log = SQLiteEventLog(database)
        assert sorted(database.conn().execute("SELECT id, seq FROM events")) == [("a", 1), ("b", 2)]
        assert [(s, e.id, e.item_id) for s, e in log.read_since(0)] == [(1, "a", "i"), (2, "b", "i")]
        database.close()
    database = Database(path, durable=False)
    try:
        log = SQLiteEventLog(database)
        result = log.append([Event(id="b", type="view", user_id="u", timestamp=1.0), Event(id="c", type="view", user_id="u", timestamp=1.0)])
        assert [(s, e.id) for s, e in result.accepted] == [(3, "c")] and result.duplicates == 1
        assert log.append_columns([{"id": ["a", "d"], "type": ["view"] * 2, "user_id": ["u"] * 2, "ts": [1.0] * 2}]) == (1, 1)
        assert log.count() == log.last_seq() == 4
    finally:
        database.close()


def test_the_change_token_moves_on_each_commit_only(db, tmp_path):
    token = db.change_token()
    db.conn().execute("SELECT COUNT(*) FROM items").fetchone()
    assert db.change_token() == token  # reads change nothing
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            conn.execute("INSERT INTO api_keys VALUES ('k', 'n', 'read', 'h', 0, 0)")
            raise RuntimeError("rolled back")
    assert db.change_token() == token
    with db.transaction() as conn:
        conn.execute("INSERT INTO api_keys VALUES ('k', 'n', 'read', 'h', 0, 0)")
    assert db.change_token() != token


def test_the_change_token_is_shared_with_other_processes(db, tmp_path):
    import subprocess
    import sys

    token = db.change_token()
    script = (
        "import sys; from tastemaker.storage.sqlite.database import Database\n"
        "d = Database(sys.argv[1], durable=False)\n"
        "with d.transaction() as c: c.execute(\"INSERT INTO api_keys VALUES ('p', 'n', 'read', 'h', 0, 0)\")\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "sub" / "t.db")], check=True, timeout=60)
    assert db.change_token() != token


# -- a write that finds no space ------------------------------------------------------------


def _insert_blobs(db: Database, n: int, size: int = 20_000) -> None:
    with db.transaction() as conn:
        conn.executemany("INSERT INTO items (id, body, version) VALUES (?, randomblob(?), 1)",
                         [(f"blob{i}-{os.urandom(4).hex()}", size) for i in range(n)])


def test_a_database_at_its_size_limit_raises_storage_full_and_keeps_working(db, tmp_path):
    """``max_page_count`` makes SQLite really full (SQLITE_FULL), portably: no mount needed."""
    conn = db.conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 8}")
    with pytest.raises(StorageFull) as caught:
        _insert_blobs(db, 50)
    assert caught.value.errno == errno.ENOSPC and "database or disk is full" in str(caught.value)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert not conn.in_transaction  # rolled back: nothing written, the write lock released
    assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
    other = Database(tmp_path / "sub" / "t.db", durable=False)  # another writer is not blocked
    try:
        with other.transaction() as c:
            c.execute("INSERT INTO items (id, body, version) VALUES ('x', NULL, 1)")
    finally:
        other.close()
    conn.execute("PRAGMA max_page_count = 1073741823")  # space is back: the same connection writes again
    _insert_blobs(db, 50)
    assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 51


def test_other_errors_pass_through_unchanged(db):
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        with db.transaction() as conn:
            conn.execute("INSERT INTO nowhere VALUES (1)")
    assert not db.conn().in_transaction


def test_a_full_disk_raises_storage_full_with_nothing_written(tmp_path):
    with small_filesystem(tmp_path / "small", size_mb=4) as mount:
        database = Database(mount / "t.db", durable=True)
        try:
            filler = fill(mount)
            with pytest.raises(StorageFull):
                for _ in range(20):  # the WAL reuses what it has: grow it until the disk refuses
                    _insert_blobs(database, 20)
            before = database.conn().execute("SELECT COUNT(*) FROM items").fetchone()[0]
            assert before % 20 == 0  # whole transactions only
            filler.unlink()
            _insert_blobs(database, 20)
            assert database.conn().execute("SELECT COUNT(*) FROM items").fetchone()[0] == before + 20
        finally:
            database.close()
