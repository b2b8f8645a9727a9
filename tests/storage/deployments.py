"""Distributed deployments for end-to-end tests: each gets its own PostgreSQL schema, JetStream
stream and subjects, Redis key prefix and data dir, and is dropped when the test ends."""

from __future__ import annotations

import uuid
from pathlib import Path

from tastemaker.config import Settings
from tests.conftest import ADMIN_KEY

from . import services
from .postgres_service import POSTGRES_URL, require_postgres


def require_services() -> None:
    """Skip the calling test, naming the service, when PostgreSQL, NATS or Redis does not answer."""
    require_postgres()
    services.require(services.NATS_URL, "NATS")
    services.require(services.REDIS_URL, "Redis")


def distributed_settings(root: Path) -> Settings:
    """A distributed deployment of its own: schema, stream, subjects, Redis prefix, data dir."""
    tag = uuid.uuid4().hex
    sep = "&" if "?" in POSTGRES_URL else "?"
    return Settings(data_dir=root / f"data-{tag[:8]}", backend="distributed", admin_key=ADMIN_KEY, durable=False,
                    postgres_url=f"{POSTGRES_URL}{sep}schema=test_{tag}", nats_url=services.NATS_URL,
                    nats_stream=f"TEST_{tag}", nats_subject_prefix=f"test.{tag}", redis_url=services.REDIS_URL,
                    redis_prefix=f"test-{tag}:")


def drop_deployment(settings: Settings) -> None:
    """Delete the deployment's stream and schema."""
    import psycopg
    from psycopg import sql

    from tastemaker.storage.postgres.database import split_schema

    services.delete_stream(settings.nats_stream, settings.nats_subject_prefix)
    conninfo, schema = split_schema(settings.postgres_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
