"""PostgreSQL for the store contract suites: each test gets a schema of its own, created on
first open and dropped (CASCADE) when the test ends, so parallel pytest workers never share
rows. A suite skips, saying so, only when the server does not answer (``.ci/run`` starts it)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tastemaker.config import Settings
from tastemaker.storage.factory import Stores, open_stores

POSTGRES_URL = os.environ.get("TASTEMAKER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL does not answer at ``POSTGRES_URL``."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[distributed]')")
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL} ({str(exc).strip()}); .ci/run starts it")


class PostgresOpener:
    """Opens distributed stores on one fresh schema; :meth:`cleanup` drops it."""

    def __init__(self, tmp_path: Path):
        require_postgres()
        self.schema = f"test_{uuid.uuid4().hex}"
        self.data_dir = tmp_path / "data"

    def __call__(self, durable: bool) -> Stores:
        sep = "&" if "?" in POSTGRES_URL else "?"
        return open_stores(Settings(data_dir=self.data_dir, backend="distributed", durable=durable,
                                    postgres_url=f"{POSTGRES_URL}{sep}schema={self.schema}"))

    def cleanup(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
