"""SQLite connections: WAL mode, durable commits, one connection per thread.

WAL lets the request thread read while the ingest thread writes; ``synchronous=FULL``
makes a commit survive power loss, which is what "durable before acknowledged" means.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
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
        self.conn().executescript(SCHEMA)

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
        """A write transaction taken up front (``BEGIN IMMEDIATE``): all or nothing."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

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
