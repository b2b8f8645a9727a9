"""The model registry's records in PostgreSQL (the bytes are in the artifact store)."""

from __future__ import annotations

import dataclasses
import time

import msgspec

from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.protocols import ModelVersion

_COLUMNS = "version, family, params, created_at, data_from_seq, data_to_seq, n_events, metrics, artifact, status, promoted_at"


def _version(row: tuple) -> ModelVersion:
    v, family, params, created, lo, hi, n, metrics, artifact, status, promoted = row
    return ModelVersion(v, family, msgspec.json.decode(params), created, lo, hi, n, msgspec.json.decode(metrics),
                        artifact, status, promoted)


class PostgresModelStore:
    """Versions of trained models; exactly one (or none) has status ``serving`` (a partial
    unique index holds that even against a bug)."""

    def __init__(self, db: PostgresDatabase):
        self.db = db

    def add(self, record: ModelVersion) -> ModelVersion:
        # The ``models`` counter's row lock orders adders on every machine: MAX + 1 is then unique.
        with self.db.transaction("models") as conn:
            version = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions").fetchone()[0]
            conn.execute(
                f"INSERT INTO model_versions ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (version, record.family, msgspec.json.encode(record.params).decode(), record.created_at,
                 record.data_from_seq, record.data_to_seq, record.n_events,
                 msgspec.json.encode(record.metrics).decode(), record.artifact, record.status, record.promoted_at),
            )
            self.db.bump(conn, "models")
        return dataclasses.replace(record, version=version)

    def get(self, version: int) -> ModelVersion | None:
        row = self.db.read_one(f"SELECT {_COLUMNS} FROM model_versions WHERE version = %s", (version,))
        return _version(row) if row else None

    def list(self) -> list[ModelVersion]:
        return [_version(r) for r in self.db.read_all(f"SELECT {_COLUMNS} FROM model_versions ORDER BY version")]

    def serving(self) -> ModelVersion | None:
        row = self.db.read_one(f"SELECT {_COLUMNS} FROM model_versions WHERE status = 'serving'")
        return _version(row) if row else None

    def promote(self, version: int) -> ModelVersion:
        """Make ``version`` the serving one (the previous serving version is retired)."""
        with self.db.transaction("models") as conn:
            if conn.execute("SELECT 1 FROM model_versions WHERE version = %s", (version,)).fetchone() is None:
                raise KeyError(version)
            conn.execute("UPDATE model_versions SET status = 'retired' WHERE status = 'serving'")
            conn.execute("UPDATE model_versions SET status = 'serving', promoted_at = %s WHERE version = %s",
                         (time.time(), version))
            self.db.bump(conn, "models")
        return self.get(version)  # type: ignore[return-value]

    def previous_serving(self) -> ModelVersion | None:
        row = self.db.read_one(
            f"SELECT {_COLUMNS} FROM model_versions WHERE status = 'retired' AND promoted_at IS NOT NULL "
            "ORDER BY promoted_at DESC LIMIT 1")
        return _version(row) if row else None
