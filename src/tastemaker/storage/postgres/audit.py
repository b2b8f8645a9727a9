"""The audit log in PostgreSQL: appended under the ``audit`` counter's row lock (appenders on
every machine chain one after another), never updated: triggers refuse UPDATE, DELETE and
TRUNCATE, and an edit by other means breaks the hash chain (storage.audit_chain.verify)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from tastemaker.storage.audit_sql import SqlAuditLog
from tastemaker.storage.postgres.database import PostgresDatabase


class PostgresAuditLog(SqlAuditLog):
    placeholder = "%s"
    prefix = "left(action, {p})"

    def __init__(self, db: PostgresDatabase):
        self.db = db

    def _append_transaction(self) -> AbstractContextManager[Any]:
        return self.db.transaction("audit")  # the counter's row lock: appenders on every machine chain in turn

    def _rows(self, sql: str, args: tuple) -> list[tuple]:
        return self.db.read_all(sql, args)
