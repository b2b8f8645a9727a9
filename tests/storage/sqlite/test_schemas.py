"""storage.sqlite.schemas: schemas are stored as their JSON encoding, keyed by (type, version)."""

from __future__ import annotations

import msgspec

from tastemaker.schema.registry import EventSchema, EventSchemaRegistry, PropertySpec
from tastemaker.storage.sqlite.database import Database
from tastemaker.storage.sqlite.schemas import SQLiteSchemaStore


def test_stored_schemas_rebuild_the_registry(tmp_path):
    db = Database(tmp_path / "t.db", durable=False)
    try:
        store = SQLiteSchemaStore(db)
        v1 = EventSchema(type="play", requires=["item"])
        v2 = EventSchema(type="play", version=2, requires=["item"], properties={"hd": PropertySpec("boolean")})
        store.save(v1)
        store.save(v2)
        body = db.conn().execute("SELECT body FROM event_schemas WHERE version = 2").fetchone()[0]
        assert msgspec.json.decode(body)["properties"] == {"hd": {"type": "boolean"}}
        registry = EventSchemaRegistry(store.load_all())
        assert [s.version for s in registry.versions("play")] == [1, 2]
    finally:
        db.close()
