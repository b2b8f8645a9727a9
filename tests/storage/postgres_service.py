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
        from .services import NATS_URL, require

        require(NATS_URL, "NATS JetStream")  # the distributed event log
        self.schema = f"test_{uuid.uuid4().hex}"
        self.data_dir = tmp_path / "data"

    def settings(self, **overrides) -> Settings:
        """The distributed deployment of this test: its own schema and its own JetStream stream."""
        from .services import NATS_URL

        sep = "&" if "?" in POSTGRES_URL else "?"
        return Settings(**{"data_dir": self.data_dir, "backend": "distributed", "nats_url": NATS_URL,
                           "postgres_url": f"{POSTGRES_URL}{sep}schema={self.schema}",
                           "nats_stream": self.schema.upper(), "nats_subject_prefix": f"test.{self.schema}",
                           **overrides})

    def __call__(self, durable: bool) -> Stores:
        return open_stores(self.settings(durable=durable))

    def cleanup(self) -> None:
        import psycopg
        from psycopg import sql

        from .services import delete_stream

        delete_stream(self.schema.upper(), f"test.{self.schema}")
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))

    def files(self) -> list[Path]:
        """The server's files of this schema's tables, indexes and TOAST relations, after a
        CHECKPOINT wrote every dirty page (the WAL, which PostgreSQL recycles by itself, is not
        among them)."""
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
            rels = conn.execute(
                "WITH mine AS (SELECT oid, reltoastrelid FROM pg_class WHERE relnamespace = to_regnamespace(%s)) "
                "SELECT oid FROM mine UNION SELECT reltoastrelid FROM mine WHERE reltoastrelid <> 0 "
                "UNION SELECT i.indexrelid FROM pg_index i JOIN mine ON i.indrelid = mine.reltoastrelid",
                (self.schema,)).fetchall()
            paths = [conn.execute("SELECT pg_relation_filepath(%s)", (oid,)).fetchone()[0] for (oid,) in rels]
        found = []
        for rel in filter(None, paths):  # 1 GiB segments: rel, rel.1, rel.2...
            found += [p for p in [data_dir / rel, *sorted(data_dir.glob(f"{rel}.*"))] if p.is_file()]
        return found

    def scan(self, user_id: str) -> dict[str, int]:
        """Occurrences of ``user_id`` (privacy.scan's needles) in :meth:`files`."""
        from tastemaker.privacy.scan import count_in_file, needles

        patterns = list(needles(user_id).values())
        return {str(p): n for p in self.files() if (n := count_in_file(p, patterns))}
