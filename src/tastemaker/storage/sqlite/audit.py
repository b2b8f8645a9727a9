"""The audit log in SQLite: one table, appended in a write transaction, never updated.

Triggers refuse UPDATE and DELETE, so no code path of the server can rewrite history; an
edit of the file by other means still breaks the hash chain (storage.audit_chain.verify).
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import msgspec

from tastemaker.storage.audit_chain import GENESIS, canonical_json, chain_hash, record_body
from tastemaker.storage.protocols import AuditRecord
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
_COLUMNS = "seq, ts, actor, action, target, summary, address, prev_hash, hash"


def _record(row: tuple) -> AuditRecord:
    seq, ts, actor, action, target, summary, address, prev_hash, digest = row
    return AuditRecord(seq, ts, actor, action, target, msgspec.json.decode(summary), address, prev_hash, digest)


class SQLiteAuditLog:
    def __init__(self, db: Database):
        self.db = db
        db.conn().executescript(_SCHEMA)

    def append(self, actor: str, action: str, target: str, summary: dict[str, Any], address: str,
               ts: float | None = None) -> AuditRecord:
        ts = time.time() if ts is None else float(ts)
        # Round-trip the summary through canonical JSON first: what is hashed is exactly
        # what a reader decodes later (tuples become lists, and so on).
        summary_text = canonical_json(summary)
        summary = msgspec.json.decode(summary_text)
        with self.db.transaction() as conn:  # BEGIN IMMEDIATE: appenders chain one after another
            last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
            digest = chain_hash(prev_hash, record_body(seq, ts, actor, action, target, summary, address, prev_hash))
            conn.execute(f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (seq, ts, actor, action, target, summary_text, address, prev_hash, digest))
        return AuditRecord(seq, ts, actor, action, target, summary, address, prev_hash, digest)

    def read(self, cursor: int | None = None, limit: int = 100, action: str | None = None,
             target: str | None = None, descending: bool = True) -> list[AuditRecord]:
        where, args = [], []
        if cursor is not None:
            where.append("seq < ?" if descending else "seq > ?")
            args.append(cursor)
        if action is not None:
            if action.endswith("."):  # a family of actions: 'keys.' matches keys.create and keys.revoke
                where.append("substr(action, 1, ?) = ?")
                args += [len(action), action]
            else:
                where.append("action = ?")
                args.append(action)
        if target is not None:
            where.append("target = ?")
            args.append(target)
        sql = (f"SELECT {_COLUMNS} FROM audit_log {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY seq {'DESC' if descending else 'ASC'} LIMIT ?")
        return [_record(r) for r in self.db.conn().execute(sql, (*args, limit)).fetchall()]

    def iter_all(self) -> Iterator[AuditRecord]:
        after = 0
        while True:  # in pages: a long log is never held in memory whole
            rows = self.db.conn().execute(f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1000",
                                          (after,)).fetchall()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            after = rows[-1][0]

    def count(self) -> int:
        return self.db.conn().execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
