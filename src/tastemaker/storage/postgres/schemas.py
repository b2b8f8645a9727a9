"""Registered event schemas in PostgreSQL (built-in versions are not stored)."""

from __future__ import annotations

import msgspec

from tastemaker.schema.registry import EventSchema
from tastemaker.storage.postgres.database import PostgresDatabase

_decode = msgspec.json.Decoder(EventSchema).decode


class PostgresSchemaStore:
    def __init__(self, db: PostgresDatabase):
        self.db = db

    def save(self, schema: EventSchema) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO event_schemas (type, version, body) VALUES (%s, %s, %s)",
                         (schema.type, schema.version, msgspec.json.encode(schema)))

    def load_all(self) -> list[EventSchema]:
        return [_decode(r[0]) for r in self.db.read_all("SELECT body FROM event_schemas ORDER BY type, version")]
