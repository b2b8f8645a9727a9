"""storage.factory: the one place that picks a backend."""

from __future__ import annotations

import pytest

from tastemaker.config import Settings
from tastemaker.schema.records import Event
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


def test_distributed_workers_share_a_jetstream_log_and_redis_counters(tmp_path):
    from tastemaker.storage.factory import open_rate_limiter
    from tastemaker.storage.local.rate_limiter import LocalRateLimiter
    from tastemaker.storage.nats.events import NatsEventLog
    from tastemaker.storage.redis.batched import BatchedRateLimiter
    from tastemaker.storage.redis.rate_limiter import RedisRateLimiter

    from . import services
    from .postgres_service import PostgresOpener

    services.require(services.REDIS_URL, "Redis")
    opener = PostgresOpener(tmp_path)
    worker1, worker2 = opener(False), opener(False)
    try:
        assert isinstance(worker1.events, NatsEventLog) and worker1.events.spec.name == opener.schema.upper()
        assert worker1.follow is not None
        position = worker1.events.append([Event(id="e1", type="view", user_id="u1")]).accepted[0][0]
        assert worker2.events.last_seq() == position == 1  # one log: the other worker's position
        assert not (tmp_path / "data" / "tastemaker.db").exists()  # no per-worker SQLite log
        settings = opener.settings(redis_url=services.REDIS_URL, redis_prefix=f"{opener.schema}:")
        a, b = open_rate_limiter(settings), open_rate_limiter(settings)
        assert isinstance(a, BatchedRateLimiter) and isinstance(a.shared, RedisRateLimiter)
        assert [a.acquire("read", "k", 1.0, 1), b.acquire("read", "k", 1.0, 1) > 0] == [0.0, True]  # one bucket
        a.clear(), a.close(), b.close()
        assert isinstance(open_rate_limiter(Settings(data_dir=tmp_path, backend="embedded")), LocalRateLimiter)
    finally:
        worker1.close(), worker2.close()
        opener.cleanup()
