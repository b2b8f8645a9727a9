"""storage.sqlite.documents: tombstones are rows with a NULL body and a fresh version."""

from __future__ import annotations

import pytest

from tastemaker.schema.records import Item, User
from tastemaker.storage.sqlite.database import Database
from tastemaker.storage.sqlite.documents import SQLiteDocumentTable, SQLiteItemCatalog, SQLiteUserStore


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "t.db", durable=False)
    yield database
    database.close()


def test_tombstone_row(db):
    items = SQLiteItemCatalog(db)
    v1 = items.upsert([Item(id="a"), Item(id="b")])
    v2 = items.delete("a")
    rows = dict((r[0], r[1:]) for r in db.conn().execute("SELECT id, body, version FROM items"))
    assert rows["a"] == (None, v1 + 1) and v2 is True
    assert rows["b"][1] == v1


def test_one_version_per_upsert_batch(db):
    users = SQLiteUserStore(db)
    version = users.upsert([User(id=f"u{i}") for i in range(5)])
    assert {r[0] for r in db.conn().execute("SELECT version FROM users")} == {version}


def test_only_items_and_users_tables():
    with pytest.raises(AssertionError):
        SQLiteDocumentTable(None, "events; DROP TABLE events", Item)
