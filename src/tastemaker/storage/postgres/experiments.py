"""Experiments in PostgreSQL: one row each, the document as JSON, a version for optimistic
concurrency; the change token is the ``experiments`` counter, moved by every write."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import psycopg

from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.protocols import ExperimentConflict, ExperimentRecord

_COLUMNS = "id, definition, created_at, updated_at, version"


def _record(row: tuple) -> ExperimentRecord:
    exp_id, definition, created, updated, version = row
    return ExperimentRecord(exp_id, msgspec.json.decode(definition), created, updated, version)


class PostgresExperimentStore:
    def __init__(self, db: PostgresDatabase):
        self.db = db

    def create(self, experiment_id: str, definition: dict[str, Any]) -> ExperimentRecord:
        now = time.time()
        try:
            with self.db.transaction() as conn:
                conn.execute(f"INSERT INTO experiments ({_COLUMNS}, status) VALUES (%s, %s, %s, %s, 1, %s)",
                             (experiment_id, msgspec.json.encode(definition).decode(), now, now,
                              definition.get("status", "draft")))
                self.db.bump(conn, "experiments")
        except psycopg.errors.UniqueViolation:
            raise ExperimentConflict(f"an experiment '{experiment_id}' exists already") from None
        return ExperimentRecord(experiment_id, definition, now, now, 1)

    def get(self, experiment_id: str) -> ExperimentRecord | None:
        row = self.db.read_one(f"SELECT {_COLUMNS} FROM experiments WHERE id = %s", (experiment_id,))
        return _record(row) if row else None

    def list(self, status: str | None = None) -> list[ExperimentRecord]:
        where, args = ("WHERE status = %s", (status,)) if status is not None else ("", ())
        return [_record(r) for r in self.db.read_all(f"SELECT {_COLUMNS} FROM experiments {where} "
                                                     "ORDER BY created_at, id", args)]

    def update(self, experiment_id: str, definition: dict[str, Any], expected_version: int) -> ExperimentRecord:
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version, created_at FROM experiments WHERE id = %s FOR UPDATE",
                               (experiment_id,)).fetchone()
            if row is None:
                raise KeyError(experiment_id)
            if row[0] != expected_version:
                raise ExperimentConflict(f"experiment '{experiment_id}' changed meanwhile (version {row[0]}, "
                                         f"not {expected_version}): read it again")
            conn.execute("UPDATE experiments SET definition = %s, status = %s, updated_at = %s, version = %s "
                         "WHERE id = %s", (msgspec.json.encode(definition).decode(), definition.get("status", "draft"),
                                           now, expected_version + 1, experiment_id))
            self.db.bump(conn, "experiments")
        return ExperimentRecord(experiment_id, definition, row[1], now, expected_version + 1)

    def change_token(self) -> bytes:
        return self.db.token("experiments")
