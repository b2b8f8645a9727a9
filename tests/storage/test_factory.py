"""storage.factory: the one place that picks a backend."""

from __future__ import annotations

import pytest

from tastemaker.config import Settings
from tastemaker.storage.factory import Stores, open_stores
from tastemaker.storage.sqlite.documents import SQLiteDocumentTable
from tastemaker.storage.sqlite.events import SQLiteEventLog


@pytest.mark.parametrize("name", ["embedded", "sqlite"])
def test_sqlite_is_the_embedded_default(tmp_path, name, monkeypatch):
    monkeypatch.delenv("TASTEMAKER_BACKEND", raising=False)
    assert Settings().backend == "embedded"
    settings = Settings(data_dir=tmp_path / "d", backend=name, durable=False)
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
    with pytest.raises(ValueError, match="unknown backend 'cassandra'; available: embedded \\(alias sqlite\\), distributed"):
        open_stores(Settings(data_dir=tmp_path, backend="cassandra"))
    assert not (tmp_path / "tastemaker.db").exists()


def test_distributed_opens_every_shared_store_on_postgresql(tmp_path):
    from tastemaker.storage.postgres.artifacts import PostgresArtifactStore
    from tastemaker.storage.postgres.documents import PostgresDocumentTable

    from .postgres_service import PostgresOpener

    opener = PostgresOpener(tmp_path)
    stores = opener(False)
    try:
        assert isinstance(stores.items, PostgresDocumentTable) and stores.items.table == "items"
        assert isinstance(stores.artifacts, PostgresArtifactStore)
        shared = [stores.items, stores.users, stores.keys, stores.schemas, stores.models, stores.artifacts,
                  stores.impressions, stores.audit, stores.erased, stores.experiments]
        assert len({id(store.db) for store in shared}) == 1  # one pool
        assert stores.artifacts.list() == [] and not (tmp_path / "data" / "models").exists()
    finally:
        stores.close()
        opener.cleanup()
