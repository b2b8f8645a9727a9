"""Rule segments in PostgreSQL: one row each, the definition as JSON, a version; the change
token is the ``segments`` counter (migration 0002), moved by every write."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import psycopg

from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.protocols import SegmentConflict, SegmentRecord

_COLUMNS = "name, definition, created_at, updated_at, version"


def _record(row: tuple) -> SegmentRecord:
    name, definition, created, updated, version = row
    return SegmentRecord(name, msgspec.json.decode(definition), created, updated, version)


class PostgresSegmentStore:
    """:class:`~tastemaker.storage.protocols.SegmentStore` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase):
        self.db = db

    def create(self, name: str, definition: dict[str, Any]) -> SegmentRecord:
        now = time.time()
        try:
            with self.db.transaction() as conn:
                conn.execute(f"INSERT INTO user_segments ({_COLUMNS}) VALUES (%s, %s, %s, %s, 1)",
                             (name, msgspec.json.encode(definition).decode(), now, now))
                self.db.bump(conn, "segments")
        except psycopg.errors.UniqueViolation:
            raise SegmentConflict(f"a segment '{name}' exists already") from None
        return SegmentRecord(name, definition, now, now, 1)

    def get(self, name: str) -> SegmentRecord | None:
        row = self.db.read_one(f"SELECT {_COLUMNS} FROM user_segments WHERE name = %s", (name,))
        return _record(row) if row else None

    def list(self) -> list[SegmentRecord]:
        return [_record(r) for r in self.db.read_all(f"SELECT {_COLUMNS} FROM user_segments ORDER BY name", ())]

    def replace(self, name: str, definition: dict[str, Any]) -> SegmentRecord:
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version, created_at FROM user_segments WHERE name = %s FOR UPDATE",
                               (name,)).fetchone()
            if row is None:
                raise KeyError(name)
            conn.execute("UPDATE user_segments SET definition = %s, updated_at = %s, version = %s WHERE name = %s",
                         (msgspec.json.encode(definition).decode(), now, row[0] + 1, name))
            self.db.bump(conn, "segments")
        return SegmentRecord(name, definition, row[1], now, row[0] + 1)

    def delete(self, name: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM user_segments WHERE name = %s", (name,))
            self.db.bump(conn, "segments")
        return cur.rowcount > 0

    def change_token(self) -> bytes:
        return self.db.token("segments")
