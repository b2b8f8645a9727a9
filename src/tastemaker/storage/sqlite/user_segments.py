"""Rule segments in SQLite: one row per segment, its definition as JSON, a version, and a
change token of its own (``<db>-segments-changes``) that servers read on every request (a
shared memory map: no system call), so a write in one process is seen by the next request
in every other."""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

import msgspec

from tastemaker.storage.protocols import SegmentConflict, SegmentRecord
from tastemaker.storage.sqlite.database import Database, change_token_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS user_segments (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL
);
"""
_COLUMNS = "name, definition, created_at, updated_at, version"


def _record(row: tuple) -> SegmentRecord:
    name, definition, created, updated, version = row
    return SegmentRecord(name, msgspec.json.decode(definition), created, updated, version)


class SQLiteSegmentStore:
    """:class:`~tastemaker.storage.protocols.SegmentStore` on SQLite.

    >>> import tempfile, pathlib
    >>> store = SQLiteSegmentStore(Database(pathlib.Path(tempfile.mkdtemp()) / "t.db"))
    >>> store.create("vip", {"expression": "user.revenue > 500"}).version
    1
    >>> store.replace("vip", {"expression": "user.revenue > 900"}).version
    2
    >>> [r.name for r in store.list()], store.delete("vip"), store.get("vip")
    (['vip'], True, None)
    """

    def __init__(self, db: Database):
        self.db = db
        db.conn().executescript(_SCHEMA)
        self._changes = change_token_file(db.path, "-segments-changes")

    def create(self, name: str, definition: dict[str, Any]) -> SegmentRecord:
        now = time.time()
        try:
            with self.db.transaction() as conn:
                conn.execute(f"INSERT INTO user_segments ({_COLUMNS}) VALUES (?, ?, ?, ?, 1)",
                             (name, msgspec.json.encode(definition).decode(), now, now))
        except sqlite3.IntegrityError:
            raise SegmentConflict(f"a segment '{name}' exists already") from None
        self._changed()
        return SegmentRecord(name, definition, now, now, 1)

    def get(self, name: str) -> SegmentRecord | None:
        row = self.db.conn().execute(f"SELECT {_COLUMNS} FROM user_segments WHERE name = ?", (name,)).fetchone()
        return _record(row) if row else None

    def list(self) -> list[SegmentRecord]:
        return [_record(r) for r in self.db.conn().execute(f"SELECT {_COLUMNS} FROM user_segments ORDER BY name")]

    def replace(self, name: str, definition: dict[str, Any]) -> SegmentRecord:
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version, created_at FROM user_segments WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise KeyError(name)
            conn.execute("UPDATE user_segments SET definition = ?, updated_at = ?, version = ? WHERE name = ?",
                         (msgspec.json.encode(definition).decode(), now, row[0] + 1, name))
        self._changed()
        return SegmentRecord(name, definition, row[1], now, row[0] + 1)

    def delete(self, name: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM user_segments WHERE name = ?", (name,))
        self._changed()
        return cur.rowcount > 0

    def change_token(self) -> bytes:
        return self._changes[:8]

    def _changed(self) -> None:
        self._changes[:8] = os.urandom(8)  # after the commit: a reader that sees it finds the rows
