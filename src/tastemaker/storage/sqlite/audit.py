"""The audit log in SQLite: one table, appended in a write transaction, never updated.

Triggers refuse UPDATE and DELETE, so no code path of the server can rewrite history; an
edit of the file by other means still breaks the hash chain (storage.audit_chain.verify).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from tastemaker.storage.audit_sql import SqlAuditLog
from tastemaker.storage.sqlite.database import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    summary TEXT NOT NULL,
    address TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log(action, seq);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log(target, seq);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class SQLiteAuditLog(SqlAuditLog):
    def __init__(self, db: Database):
        self.db = db
        db.conn().executescript(_SCHEMA)

    def _append_transaction(self) -> AbstractContextManager[Any]:
        return self.db.transaction()  # BEGIN IMMEDIATE: appenders chain one after another

    def _rows(self, sql: str, args: tuple) -> list[tuple]:
        return self.db.conn().execute(sql, args).fetchall()
