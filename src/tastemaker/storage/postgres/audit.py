"""The audit log in PostgreSQL: appended under the ``audit`` counter's row lock (appenders on
every machine chain one after another), never updated: triggers refuse UPDATE, DELETE and
TRUNCATE, and an edit by other means breaks the hash chain (storage.audit_chain.verify)."""

from __future__ import annotations

import time
from typing import Any, Iterator

import msgspec

from tastemaker.storage.audit_chain import GENESIS, canonical_json, chain_hash, record_body
from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.protocols import AuditRecord

_COLUMNS = "seq, ts, actor, action, target, summary, address, prev_hash, hash"


def _record(row: tuple) -> AuditRecord:
    seq, ts, actor, action, target, summary, address, prev_hash, digest = row
    return AuditRecord(seq, ts, actor, action, target, msgspec.json.decode(summary), address, prev_hash, digest)


class PostgresAuditLog:
    def __init__(self, db: PostgresDatabase):
        self.db = db

    def append(self, actor: str, action: str, target: str, summary: dict[str, Any], address: str,
               ts: float | None = None) -> AuditRecord:
        ts = time.time() if ts is None else float(ts)
        summary_text = canonical_json(summary)  # what is hashed is exactly what a reader decodes
        summary = msgspec.json.decode(summary_text)
        with self.db.transaction("audit") as conn:
            last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
            digest = chain_hash(prev_hash, record_body(seq, ts, actor, action, target, summary, address, prev_hash))
            conn.execute(f"INSERT INTO audit_log ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         (seq, ts, actor, action, target, summary_text, address, prev_hash, digest))
        return AuditRecord(seq, ts, actor, action, target, summary, address, prev_hash, digest)

    def read(self, cursor: int | None = None, limit: int = 100, action: str | None = None,
             target: str | None = None, descending: bool = True) -> list[AuditRecord]:
        where, args = [], []
        if cursor is not None:
            where.append("seq < %s" if descending else "seq > %s")
            args.append(cursor)
        if action is not None:
            if action.endswith("."):  # a family: 'keys.' matches keys.create and keys.revoke
                where.append("left(action, %s) = %s")
                args += [len(action), action]
            else:
                where.append("action = %s")
                args.append(action)
        if target is not None:
            where.append("target = %s")
            args.append(target)
        sql = (f"SELECT {_COLUMNS} FROM audit_log {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY seq {'DESC' if descending else 'ASC'} LIMIT %s")
        return [_record(r) for r in self.db.read_all(sql, (*args, limit))]

    def iter_all(self) -> Iterator[AuditRecord]:
        after = 0
        while True:  # in pages: a long log is never held in memory whole
            rows = self.db.read_all(f"SELECT {_COLUMNS} FROM audit_log WHERE seq > %s ORDER BY seq LIMIT 1000", (after,))
            if not rows:
                return
            for row in rows:
                yield _record(row)
            after = rows[-1][0]

    def count(self) -> int:
        return self.db.read_one("SELECT COUNT(*) FROM audit_log")[0]
