"""The model registry's records in SQLite (artifacts live in the artifact directory)."""

from __future__ import annotations

import dataclasses
import time

import msgspec

from tastemaker.storage.protocols import ModelVersion
from tastemaker.storage.sqlite.database import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    version INTEGER PRIMARY KEY,
    family TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at REAL NOT NULL,
    data_from_seq INTEGER NOT NULL,
    data_to_seq INTEGER NOT NULL,
    n_events INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    artifact TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'candidate',
    promoted_at REAL
);
"""


def _version(row: tuple) -> ModelVersion:
    v, family, params, created, lo, hi, n, metrics, artifact, status, promoted = row
    return ModelVersion(v, family, msgspec.json.decode(params), created, lo, hi, n, msgspec.json.decode(metrics), artifact, status, promoted)


_COLUMNS = "version, family, params, created_at, data_from_seq, data_to_seq, n_events, metrics, artifact, status, promoted_at"


class SQLiteModelStore:
    """Versions of trained models; exactly one (or none) has status ``serving``."""

    def __init__(self, db: Database):
        self.db = db
        db.conn().executescript(_SCHEMA)

    def add(self, record: ModelVersion) -> ModelVersion:
        # The number is taken inside the write transaction (BEGIN IMMEDIATE holds the write
        # lock), so two trainers finishing at once, in any processes, get distinct versions.
        with self.db.transaction() as conn:
            version = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions").fetchone()[0]
            conn.execute(
                f"INSERT INTO model_versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (version, record.family, msgspec.json.encode(record.params).decode(), record.created_at,
                 record.data_from_seq, record.data_to_seq, record.n_events,
                 msgspec.json.encode(record.metrics).decode(), record.artifact, record.status, record.promoted_at),
            )
        return dataclasses.replace(record, version=version)

    def get(self, version: int) -> ModelVersion | None:
        row = self.db.conn().execute(f"SELECT {_COLUMNS} FROM model_versions WHERE version = ?", (version,)).fetchone()
        return _version(row) if row else None

    def list(self) -> list[ModelVersion]:
        rows = self.db.conn().execute(f"SELECT {_COLUMNS} FROM model_versions ORDER BY version").fetchall()
        return [_version(r) for r in rows]

    def serving(self) -> ModelVersion | None:
        row = self.db.conn().execute(f"SELECT {_COLUMNS} FROM model_versions WHERE status = 'serving'").fetchone()
        return _version(row) if row else None

    def promote(self, version: int) -> ModelVersion:
        """Make ``version`` the serving one (the previous serving version is retired)."""
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM model_versions WHERE version = ?", (version,)).fetchone() is None:
                raise KeyError(version)
            conn.execute("UPDATE model_versions SET status = 'retired' WHERE status = 'serving'")
            conn.execute("UPDATE model_versions SET status = 'serving', promoted_at = ? WHERE version = ?", (time.time(), version))
        return self.get(version)  # type: ignore[return-value]

    def previous_serving(self) -> ModelVersion | None:
        """The version that served before the current one (by promotion time)."""
        row = self.db.conn().execute(
            f"SELECT {_COLUMNS} FROM model_versions WHERE status = 'retired' AND promoted_at IS NOT NULL "
            "ORDER BY promoted_at DESC LIMIT 1"
        ).fetchone()
        return _version(row) if row else None
