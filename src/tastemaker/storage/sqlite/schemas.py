"""Registered event schemas in SQLite (built-in versions are not stored)."""

from __future__ import annotations

import msgspec

from tastemaker.schema.registry import EventSchema
from tastemaker.storage.sqlite.database import Database

_decode = msgspec.json.Decoder(EventSchema).decode


class SQLiteSchemaStore:
    def __init__(self, db: Database):
        self.db = db

    def save(self, schema: EventSchema) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO event_schemas(type, version, body) VALUES (?, ?, ?)",
                (schema.type, schema.version, msgspec.json.encode(schema)),
            )

    def load_all(self) -> list[EventSchema]:
        rows = self.db.conn().execute("SELECT body FROM event_schemas ORDER BY type, version").fetchall()
        return [_decode(r[0]) for r in rows]
