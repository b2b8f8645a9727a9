"""Erased-user tombstones in PostgreSQL, and reclaiming the space of deleted rows."""

from __future__ import annotations

import time

from tastemaker.storage.postgres.database import PostgresDatabase


class PostgresErasedUsers:
    """:class:`~tastemaker.storage.protocols.ErasedUsers`: keyed digests only, never ids."""

    def __init__(self, db: PostgresDatabase):
        self.db = db

    def add(self, digest: str, ts: float | None = None) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("INSERT INTO erased_users (digest, erased_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                               (digest, time.time() if ts is None else ts))
            return cur.rowcount > 0

    def contains(self, digest: str) -> bool:
        return self.db.read_one("SELECT 1 FROM erased_users WHERE digest = %s", (digest,)) is not None

    def all(self) -> set[str]:
        return {r[0] for r in self.db.read_all("SELECT digest FROM erased_users")}

    def count(self) -> int:
        return self.db.read_one("SELECT COUNT(*) FROM erased_users")[0]


# The tables an erasure deletes rows from: VACUUM FULL rewrites them, so the deleted tuples'
# bytes leave the heap files (a plain VACUUM only marks the space free for reuse).
ERASED_TABLES = ("users", "api_keys", "impressions", "impression_exposures")


def reclaim(db: PostgresDatabase) -> None:
    """Rewrite the tables that erasures delete from (``VACUUM FULL``: an exclusive lock on each
    table for the time it takes; run it in a quiet hour on a large catalogue). The WAL and
    base backups still hold old rows until they are recycled: see docs/architecture.md."""
    with db.connection() as conn:  # autocommit: VACUUM cannot run in a transaction
        for table in ERASED_TABLES:
            conn.execute(f"VACUUM FULL {table}")
