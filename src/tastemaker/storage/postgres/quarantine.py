"""Quarantined events in PostgreSQL (:class:`~tastemaker.storage.protocols.QuarantineStore`);
the table comes from migration 0002_quarantine."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tastemaker.storage import quarantine_sql as q
from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.protocols import QuarantinedUser, QuarantineRecord


class PostgresQuarantineStore:
    def __init__(self, db: PostgresDatabase):
        self.db = db

    def hold(self, records: Sequence[QuarantineRecord]) -> int:
        if not records:
            return 0
        rows = q.hold_rows(records, time.time())
        with self.db.transaction() as conn:
            added = 0
            with conn.cursor() as cur:
                for row in rows:
                    cur.execute(f"INSERT INTO quarantine ({q.COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                                "ON CONFLICT (seq) DO NOTHING", row)
                    added += cur.rowcount
            return added

    def excluded(self, after_seq: int = 0, to_seq: int | None = None) -> set[int]:
        top = (1 << 62) if to_seq is None else to_seq
        rows = self.db.read_all("SELECT seq FROM quarantine WHERE seq > %s AND seq <= %s AND status IN (%s, %s)",
                                (after_seq, top, *q.EXCLUDED))
        return {int(r[0]) for r in rows}

    def list(self, status: str | None = None, user_id: str | None = None, after_seq: int = 0,
             limit: int = 100) -> list[QuarantineRecord]:
        sql, args = q.list_query("%s", status, user_id, after_seq, limit)
        return [q.record(r) for r in self.db.read_all(sql, args)]

    def users(self, status: str | None = "held", limit: int = 100) -> list[QuarantinedUser]:
        sql, args = q.users_query("%s", status, limit)
        rows = self.db.read_all(sql, args)
        if not rows:
            return []
        sql, args = q.reasons_query("%s", [r[0] for r in rows], status)
        return q.quarantined_users(rows, self.db.read_all(sql, args))

    def decide(self, status: str, seqs: Sequence[int] | None = None,
               user_id: str | None = None) -> list[QuarantineRecord]:
        where, args = q.decide_target("%s", status, seqs, user_id)
        with self.db.transaction() as conn:
            rows = conn.execute(f"UPDATE quarantine SET status = %s, decided_at = %s WHERE {where} "
                                f"RETURNING {q.COLUMNS}", (status, time.time(), *args)).fetchall()
        return sorted((q.record(r) for r in rows), key=lambda r: r.seq)

    def erase_user(self, user_id: str) -> int:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM quarantine WHERE user_id = %s", (user_id,)).rowcount
