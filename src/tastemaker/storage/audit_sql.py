"""The audit log's logic over any SQL database: one append-only table ``audit_log``, each
record chained to the one before (storage.audit_chain). A backend supplies its placeholder,
its prefix function and three small methods; the queries and the chain are written once.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any, Iterator

import msgspec

from tastemaker.storage.audit_chain import GENESIS, canonical_json, chain_hash, record_body
from tastemaker.storage.protocols import AuditRecord

COLUMNS = "seq, ts, actor, action, target, summary, address, prev_hash, hash"
_PAGE = 1000


def _record(row: tuple) -> AuditRecord:
    seq, ts, actor, action, target, summary, address, prev_hash, digest = row
    return AuditRecord(seq, ts, actor, action, target, msgspec.json.decode(summary), address, prev_hash, digest)


class SqlAuditLog:
    """The :class:`~tastemaker.storage.protocols.AuditLog` over a SQL backend.

    Subclasses set ``placeholder`` (``?`` or ``%s``) and ``prefix`` (an SQL expression of
    the action column's first ``{n}`` characters) and implement :meth:`_append_transaction`
    (appenders must chain one after another: it serialises them), :meth:`_rows` and :meth:`_row`.
    """

    placeholder = "?"
    prefix = "substr(action, 1, {p})"

    def _append_transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _rows(self, sql: str, args: tuple) -> list[tuple]:
        raise NotImplementedError

    def _row(self, sql: str, args: tuple = ()) -> tuple | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    def append(self, actor: str, action: str, target: str, summary: dict[str, Any], address: str,
               ts: float | None = None) -> AuditRecord:
        ts = time.time() if ts is None else float(ts)
        # Round-trip the summary through canonical JSON first: what is hashed is exactly
        # what a reader decodes later (tuples become lists, and so on).
        summary_text = canonical_json(summary)
        summary = msgspec.json.decode(summary_text)
        p = self.placeholder
        with self._append_transaction() as conn:
            last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
            digest = chain_hash(prev_hash, record_body(seq, ts, actor, action, target, summary, address, prev_hash))
            conn.execute(f"INSERT INTO audit_log ({COLUMNS}) VALUES ({', '.join([p] * 9)})",
                         (seq, ts, actor, action, target, summary_text, address, prev_hash, digest))
        return AuditRecord(seq, ts, actor, action, target, summary, address, prev_hash, digest)

    def read(self, cursor: int | None = None, limit: int = 100, action: str | None = None,
             target: str | None = None, descending: bool = True) -> list[AuditRecord]:
        p = self.placeholder
        where: list[str] = []
        args: list[Any] = []
        if cursor is not None:
            where.append(f"seq < {p}" if descending else f"seq > {p}")
            args.append(cursor)
        if action is not None:
            if action.endswith("."):  # a family of actions: 'keys.' matches keys.create and keys.revoke
                where.append(f"{self.prefix.format(p=p)} = {p}")
                args += [len(action), action]
            else:
                where.append(f"action = {p}")
                args.append(action)
        if target is not None:
            where.append(f"target = {p}")
            args.append(target)
        sql = (f"SELECT {COLUMNS} FROM audit_log {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY seq {'DESC' if descending else 'ASC'} LIMIT {p}")
        return [_record(r) for r in self._rows(sql, (*args, limit))]

    def iter_all(self) -> Iterator[AuditRecord]:
        after = 0
        while True:  # in pages: a long log is never held in memory whole
            rows = self._rows(f"SELECT {COLUMNS} FROM audit_log WHERE seq > {self.placeholder} ORDER BY seq "
                              f"LIMIT {_PAGE}", (after,))
            if not rows:
                return
            for row in rows:
                yield _record(row)
            after = rows[-1][0]

    def count(self) -> int:
        row = self._row("SELECT COUNT(*) FROM audit_log")
        return int(row[0]) if row else 0
