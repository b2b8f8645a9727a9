"""Quarantined events in SQLite (:class:`~tastemaker.storage.protocols.QuarantineStore`)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tastemaker.storage import quarantine_sql as q
from tastemaker.storage.protocols import QuarantinedUser, QuarantineRecord
from tastemaker.storage.sqlite.database import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL,
    item_id TEXT,
    type TEXT NOT NULL,
    ts REAL NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    flagged_at REAL NOT NULL,
    decided_at REAL
);
CREATE INDEX IF NOT EXISTS quarantine_user ON quarantine(user_id);
CREATE INDEX IF NOT EXISTS quarantine_status ON quarantine(status, seq);
"""


class SQLiteQuarantineStore:
    """Flags and decisions, one row per event.

    >>> import tempfile, pathlib
    >>> store = SQLiteQuarantineStore(Database(pathlib.Path(tempfile.mkdtemp()) / "t.db"))
    >>> store.hold([QuarantineRecord(7, "bot", "i1", "view", 1.0, "rate")])
    1
    >>> store.excluded(), [r.status for r in store.decide("released", user_id="bot")], store.excluded()
    ({7}, ['released'], set())
    """

    def __init__(self, db: Database):
        self.db = db
        db.conn().executescript(_SCHEMA)

    def hold(self, records: Sequence[QuarantineRecord]) -> int:
        if not records:
            return 0
        rows = q.hold_rows(records, time.time())
        with self.db.transaction() as conn:
            before = conn.total_changes
            conn.executemany(f"INSERT OR IGNORE INTO quarantine ({q.COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return conn.total_changes - before

    def excluded(self, after_seq: int = 0, to_seq: int | None = None) -> set[int]:
        top = (1 << 62) if to_seq is None else to_seq
        rows = self.db.conn().execute("SELECT seq FROM quarantine WHERE seq > ? AND seq <= ? AND status IN (?, ?)",
                                      (after_seq, top, *q.EXCLUDED))
        return {r[0] for r in rows}

    def list(self, status: str | None = None, user_id: str | None = None, after_seq: int = 0,
             limit: int = 100) -> list[QuarantineRecord]:
        sql, args = q.list_query("?", status, user_id, after_seq, limit)
        return [q.record(r) for r in self.db.conn().execute(sql, args)]

    def users(self, status: str | None = "held", limit: int = 100) -> list[QuarantinedUser]:
        sql, args = q.users_query("?", status, limit)
        conn = self.db.conn()
        rows = conn.execute(sql, args).fetchall()
        if not rows:
            return []
        sql, args = q.reasons_query("?", [r[0] for r in rows], status)
        return q.quarantined_users(rows, conn.execute(sql, args).fetchall())

    def decide(self, status: str, seqs: Sequence[int] | None = None,
               user_id: str | None = None) -> list[QuarantineRecord]:
        where, args = q.decide_target("?", status, seqs, user_id)
        with self.db.transaction() as conn:
            changed = [r[0] for r in conn.execute(f"SELECT seq FROM quarantine WHERE {where} ORDER BY seq", args)]
            conn.executemany("UPDATE quarantine SET status = ?, decided_at = ? WHERE seq = ?",
                             [(status, time.time(), s) for s in changed])
            out = []
            for start in range(0, len(changed), 500):
                part = changed[start:start + 500]
                out += conn.execute(f"SELECT {q.COLUMNS} FROM quarantine WHERE seq IN ({', '.join('?' * len(part))}) "
                                    "ORDER BY seq", part).fetchall()
        return [q.record(r) for r in out]

    def erase_user(self, user_id: str) -> int:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM quarantine WHERE user_id = ?", (user_id,)).rowcount
