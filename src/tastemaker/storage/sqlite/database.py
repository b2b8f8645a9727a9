"""SQLite connections: WAL mode, durable commits, one connection per thread.

WAL lets the request thread read while the ingest thread writes; ``synchronous=FULL``
makes a commit survive power loss, which is what "durable before acknowledged" means.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tastemaker.storage.protocols import StorageFull

SCHEMA = """
-- The event log (storage/sqlite/events.py). events holds one (id, seq) row per logged
-- event: the dedupe index, and what `SELECT COUNT(*) FROM events` counts. Bodies live in
-- event_rows (API appends, a row each) or event_segments (bulk imports, an Arrow blob
-- per batch); the two cover disjoint ranges of seq.
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_rows (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    session_id TEXT,
    item_id TEXT,
    item_ids TEXT,
    value REAL,
    query TEXT,
    context TEXT,
    ts REAL NOT NULL,
    recommendation_id TEXT,
    properties TEXT,
    schema_version INTEGER
);
CREATE TABLE IF NOT EXISTS event_segments (
    first_seq INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS event_segments_last ON event_segments(last_seq);
-- The highest seq ever given out, once an erasure removed the newest events: seqs are never
-- reused (online state skips events at or below the seq it has applied).
CREATE TABLE IF NOT EXISTS event_seq_floor (seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    body BLOB,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_version ON items(version);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    body BLOB,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS users_version ON users(version);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS event_schemas (
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (type, version)
);
"""


def change_token_file(db_path: Path, suffix: str = "-changes") -> mmap.mmap:
    """``<db><suffix>``: 8 shared bytes, mapped by every process that opens the database."""
    fd = os.open(db_path.with_name(db_path.name + suffix), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size < 8:
            os.ftruncate(fd, 8)  # two processes racing here both write zeros: harmless
        return mmap.mmap(fd, 8)
    finally:
        os.close(fd)


class Database:
    """A SQLite file shared by the stores of one data dir.

    >>> import tempfile, pathlib
    >>> db = Database(pathlib.Path(tempfile.mkdtemp()) / "t.db")
    >>> db.conn().execute("PRAGMA journal_mode").fetchone()[0]
    'wal'
    """

    def __init__(self, path: Path | str, *, durable: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._durable = durable
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._changes = change_token_file(self.path)
        self._migrate()  # before SCHEMA, which would create an empty event_rows
        self.conn().executescript(SCHEMA)

    def _migrate(self) -> None:
        """Convert a file whose ``events`` table holds whole events (before event_segments).

        Its rows become ``event_rows`` and their ids the new ``events`` index; the old
        UNIQUE index on ``id`` moves along (SQLite cannot drop it), harmless.
        """
        conn = self.conn()
        legacy = "SELECT 1 FROM pragma_table_info('events') WHERE name = 'type'"
        if conn.execute(legacy).fetchone() is None:
            return
        with self.transaction():
            if conn.execute(legacy).fetchone() is not None:  # again: another process may have done it
                conn.execute("ALTER TABLE events RENAME TO event_rows")
                conn.execute("CREATE TABLE events (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID")
                conn.execute("INSERT INTO events (id, seq) SELECT id, seq FROM event_rows")

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA cache_size=-65536")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (``BEGIN IMMEDIATE``): all or nothing.

        A write that fails for lack of space (``SQLITE_FULL``: a full disk, or the database
        at ``max_page_count``) raises :class:`StorageFull`, with nothing written.
        """
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")  # inside the try: a COMMIT that fails must not keep the write lock
        except BaseException as exc:
            # SQLite rolls back by itself after some errors (SQLITE_FULL among them); a second
            # ROLLBACK would raise and hide the error that matters.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
                raise StorageFull(errno.ENOSPC, f"{exc} ({self.path.parent})") from exc
            raise
        self._changes[:8] = os.urandom(8)  # after the commit, before the caller acknowledges it

    def change_token(self) -> bytes:
        """8 bytes that every committed write transaction, in any process, replaces.

        Reading it costs no system call (a shared memory map), so a reader can skip asking
        SQLite (``PRAGMA data_version``: file locks and a stat) while nothing was written.
        """
        return self._changes[:8]

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's ``PRAGMA data_version``)."""
        return self.conn().execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass  # owned by a thread that is gone
            self._all.clear()
        self._local = threading.local()
