"""The impression log in PostgreSQL: one row per served list, as the SQLite log keeps it.

Features are float32 bytes; each distinct tuple of feature names is stored once in
``impression_features``. The experiments a list was served in are a JSON column and one row
each in ``impression_exposures``, read by index (``read_experiment``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Sequence

from tastemaker.storage.impressions_sql import FIELDS, SqlImpressionLog, exposures_of, row_of
from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.protocols import ImpressionRecord

_INSERT = (f"INSERT INTO impressions ({FIELDS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
           "ON CONFLICT (recommendation_id) DO NOTHING RETURNING recommendation_id")
_INSERT_EXPOSURE = ("INSERT INTO impression_exposures (recommendation_id, experiment_id, variant, ts) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING")


class PostgresImpressionLog(SqlImpressionLog):
    """:class:`~tastemaker.storage.protocols.ImpressionLog` on PostgreSQL (double precision
    holds the infinite bounds of open reads)."""

    placeholder = "%s"

    def __init__(self, db: PostgresDatabase):
        super().__init__()
        self.db = db

    def _rows(self, sql: str, args: tuple) -> list[tuple]:
        return self.db.read_all(sql, args)

    def _write_transaction(self) -> AbstractContextManager[Any]:
        return self.db.transaction()

    def _names_id(self, conn: Any, text: str) -> int:
        # DO UPDATE (a no-op) so RETURNING gives the id of an existing row too
        return conn.execute("INSERT INTO impression_features (names) VALUES (%s) ON CONFLICT (names) "
                            "DO UPDATE SET names = excluded.names RETURNING id", (text,)).fetchone()[0]

    def append(self, impressions: Sequence[ImpressionRecord]) -> int:
        if not impressions:
            return 0
        new = 0
        with self.db.transaction() as conn, conn.cursor() as cur:
            for r in impressions:
                cur.execute(_INSERT, row_of(r, self._features_id(conn, r)))
                if cur.fetchone() is None:
                    continue  # a repeated id: it must not gain the repeat's exposures either
                new += 1
                if r.experiments:
                    cur.executemany(_INSERT_EXPOSURE, exposures_of(r))
        return new
