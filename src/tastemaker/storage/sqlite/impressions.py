"""The impression log in SQLite: one small row per served list (the learned ranker's data).

Rows are written in batches by :class:`tastemaker.serving.impressions.ImpressionLogger`
(one transaction per batch, off the request path). Features are float32 bytes; each
distinct tuple of feature names is stored once in ``impression_features``. The experiments
a list was served in are a JSON column (``experiments``, added in place to an older file) and
one row each in ``impression_exposures`` (experiment, recommendation id, variant, time), so
an experiment's impressions are read by index (``read_experiment``), never by a scan.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Sequence

import numpy as np  # noqa: F401 (the doctest below uses it)

from tastemaker.storage.impressions_sql import FIELDS, SqlImpressionLog, exposures_of, row_of
from tastemaker.storage.protocols import ImpressionRecord
from tastemaker.storage.sqlite.database import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS impression_features (
    id INTEGER PRIMARY KEY,
    names TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS impressions (
    recommendation_id TEXT PRIMARY KEY,
    placement TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ts REAL NOT NULL,
    log_seq INTEGER NOT NULL,
    items TEXT NOT NULL,
    features_id INTEGER,
    features BLOB
);
CREATE INDEX IF NOT EXISTS impressions_placement_ts ON impressions(placement, ts);
CREATE INDEX IF NOT EXISTS impressions_ts ON impressions(ts);
CREATE TABLE IF NOT EXISTS impression_exposures (
    recommendation_id TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (recommendation_id, experiment_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS impression_exposures_experiment ON impression_exposures(experiment_id, ts);
"""
# Columns added after the first release: added in place to an older file (NULL for old rows).
_ADDED = (("experiments", "TEXT"),)
_INSERT = (f"INSERT OR IGNORE INTO impressions ({FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_EXPOSURE = "INSERT OR IGNORE INTO impression_exposures (recommendation_id, experiment_id, variant, ts) VALUES (?, ?, ?, ?)"


class SQLiteImpressionLog(SqlImpressionLog):
    """:class:`~tastemaker.storage.protocols.ImpressionLog` on SQLite.

    >>> import tempfile, pathlib
    >>> log = SQLiteImpressionLog(Database(pathlib.Path(tempfile.mkdtemp()) / "t.db"))
    >>> log.append([ImpressionRecord("r1", "home", "u", 1.0, ["a", "b"], np.ones((2, 1)), ("blend",))])
    1
    >>> [(r.items, r.features.tolist(), r.feature_names) for r in log.read("home")]
    [(['a', 'b'], [[1.0], [1.0]], ('blend',))]
    """

    def __init__(self, db: Database):
        super().__init__()
        self.db = db
        db.conn().executescript(_SCHEMA)
        self._add_columns()

    def _rows(self, sql: str, args: tuple) -> list[tuple]:
        return self.db.conn().execute(sql, args).fetchall()

    def _write_transaction(self) -> AbstractContextManager[Any]:
        return self.db.transaction()

    def _add_columns(self) -> None:
        conn = self.db.conn()
        have = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info('impressions')")}
        if all(name in have for name, _ in _ADDED):
            return
        with self.db.transaction() as conn:
            have = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info('impressions')")}  # another process?
            for name, decl in _ADDED:
                if name not in have:
                    conn.execute(f"ALTER TABLE impressions ADD COLUMN {name} {decl}")

    def _names_id(self, conn: Any, text: str) -> int:
        conn.execute("INSERT OR IGNORE INTO impression_features (names) VALUES (?)", (text,))
        return conn.execute("SELECT id FROM impression_features WHERE names = ?", (text,)).fetchone()[0]

    def append(self, impressions: Sequence[ImpressionRecord]) -> int:
        if not impressions:
            return 0
        with self.db.transaction() as conn:
            rows, exposed = [], []
            for r in impressions:
                row = row_of(r, self._features_id(conn, r))
                (exposed if r.experiments else rows).append((row, r))
            before = conn.total_changes  # name inserts above are not impressions
            conn.executemany(_INSERT, [row for row, _ in rows])
            new = conn.total_changes - before
            for row, r in exposed:  # one at a time: a repeated id must not gain the repeat's exposures
                if conn.execute(_INSERT, row).rowcount:
                    new += 1
                    conn.executemany(_INSERT_EXPOSURE, exposures_of(r))
            return new
