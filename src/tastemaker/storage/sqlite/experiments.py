"""Experiments in SQLite: one row per experiment, its document as JSON, a version for
optimistic concurrency, and a change token of its own (``<db>-experiments-changes``) that
servers read on every request (a shared memory map: no system call)."""

from __future__ import annotations

import os
import time
from typing import Any

import msgspec

from tastemaker.storage.protocols import ExperimentConflict, ExperimentRecord
from tastemaker.storage.sqlite.database import Database, change_token_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS experiments_status ON experiments(status);
"""
_COLUMNS = "id, definition, created_at, updated_at, version"


def _record(row: tuple) -> ExperimentRecord:
    exp_id, definition, created, updated, version = row
    return ExperimentRecord(exp_id, msgspec.json.decode(definition), created, updated, version)


class SQLiteExperimentStore:
    """:class:`~tastemaker.storage.protocols.ExperimentStore` on SQLite.

    >>> import tempfile, pathlib
    >>> store = SQLiteExperimentStore(Database(pathlib.Path(tempfile.mkdtemp()) / "t.db"))
    >>> store.create("e1", {"id": "e1", "status": "draft"}).version
    1
    >>> store.update("e1", {"id": "e1", "status": "running"}, expected_version=1).status
    'running'
    >>> [r.experiment_id for r in store.list("running")]
    ['e1']
    """

    def __init__(self, db: Database):
        self.db = db
        db.conn().executescript(_SCHEMA)
        self._changes = change_token_file(db.path, "-experiments-changes")

    def create(self, experiment_id: str, definition: dict[str, Any]) -> ExperimentRecord:
        now = time.time()
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM experiments WHERE id = ?", (experiment_id,)).fetchone() is not None:
                raise ExperimentConflict(f"an experiment '{experiment_id}' exists already")
            conn.execute(f"INSERT INTO experiments ({_COLUMNS}, status) VALUES (?, ?, ?, ?, 1, ?)",
                         (experiment_id, msgspec.json.encode(definition).decode(), now, now,
                          definition.get("status", "draft")))
        self._changed()
        return ExperimentRecord(experiment_id, definition, now, now, 1)

    def get(self, experiment_id: str) -> ExperimentRecord | None:
        row = self.db.conn().execute(f"SELECT {_COLUMNS} FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
        return _record(row) if row else None

    def list(self, status: str | None = None) -> list[ExperimentRecord]:
        where, args = ("WHERE status = ?", (status,)) if status is not None else ("", ())
        rows = self.db.conn().execute(f"SELECT {_COLUMNS} FROM experiments {where} ORDER BY created_at, id", args)
        return [_record(r) for r in rows]

    def update(self, experiment_id: str, definition: dict[str, Any], expected_version: int) -> ExperimentRecord:
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT version, created_at FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
            if row is None:
                raise KeyError(experiment_id)
            if row[0] != expected_version:
                raise ExperimentConflict(f"experiment '{experiment_id}' changed meanwhile (version {row[0]}, "
                                         f"not {expected_version}): read it again")
            conn.execute("UPDATE experiments SET definition = ?, status = ?, updated_at = ?, version = ? WHERE id = ?",
                         (msgspec.json.encode(definition).decode(), definition.get("status", "draft"), now,
                          expected_version + 1, experiment_id))
        self._changed()
        return ExperimentRecord(experiment_id, definition, row[1], now, expected_version + 1)

    def change_token(self) -> bytes:
        return self._changes[:8]

    def _changed(self) -> None:
        self._changes[:8] = os.urandom(8)  # after the commit: a reader that sees it finds the rows
