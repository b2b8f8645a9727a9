"""storage.factory: the one place that picks a backend."""

from __future__ import annotations

import pytest

from tastemaker.config import Settings
from tastemaker.storage.factory import Stores, open_stores
from tastemaker.storage.sqlite.documents import SQLiteDocumentTable
from tastemaker.storage.sqlite.events import SQLiteEventLog


def test_sqlite_is_the_embedded_default(tmp_path):
    settings = Settings(data_dir=tmp_path / "d", backend="sqlite", durable=False)
    stores = open_stores(settings)
    try:
        assert isinstance(stores, Stores)
        assert isinstance(stores.events, SQLiteEventLog)
        assert isinstance(stores.items, SQLiteDocumentTable) and stores.items.table == "items"
        assert isinstance(stores.users, SQLiteDocumentTable) and stores.users.table == "users"
        assert settings.db_path.exists()
        assert stores.events.db is stores.items.db is stores.keys.db is stores.schemas.db  # one database
    finally:
        stores.close()


def test_unknown_backend_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="unknown backend 'cassandra'; available: sqlite"):
        open_stores(Settings(data_dir=tmp_path, backend="cassandra"))
    assert not (tmp_path / "tastemaker.db").exists()
