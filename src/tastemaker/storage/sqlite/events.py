"""The event log in SQLite: append-only, deduplicated by event id, ordered by ``seq``."""

from __future__ import annotations

from typing import Iterable, Sequence

import msgspec

from tastemaker.schema.records import Event
from tastemaker.storage.protocols import AppendResult
from tastemaker.storage.sqlite.database import Database

_COLUMNS = "id, type, user_id, session_id, item_id, item_ids, value, query, context, ts, recommendation_id, properties, schema_version"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"
_INSERT_OR_IGNORE = _INSERT.replace("INSERT", "INSERT OR IGNORE", 1)

_encode = msgspec.json.Encoder().encode
_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_obj = msgspec.json.Decoder(dict).decode


def _row(e: Event) -> tuple:
    return (
        e.id, e.type, e.user_id, e.session_id, e.item_id,
        _encode(e.item_ids).decode() if e.item_ids else None,
        e.value, e.query,
        _encode(e.context).decode() if e.context else None,
        e.timestamp, e.recommendation_id,
        _encode(e.properties).decode() if e.properties else None,
        e.schema_version,
    )


def _event(row: tuple) -> tuple[int, Event]:
    seq, id_, type_, user, session, item, item_ids, value, query, context, ts, rec, props, version = row
    return seq, Event(
        id=id_, type=type_, user_id=user, session_id=session, item_id=item,
        item_ids=_decode_list(item_ids) if item_ids else None, value=value, query=query,
        context=_decode_obj(context) if context else None, timestamp=ts, recommendation_id=rec,
        properties=_decode_obj(props) if props else None, schema_version=version,
    )


class SQLiteEventLog:
    """:class:`~tastemaker.storage.protocols.EventLog` on SQLite."""

    def __init__(self, db: Database):
        self.db = db
        self._data_version = -1

    def append(self, events: Sequence[Event]) -> AppendResult:
        """Insert-or-ignore, then ask which rows are new only when some were duplicates.

        Resent batches are rare, so the common case costs one ``executemany`` and no lookup.
        """
        with self.db.transaction() as conn:
            first = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0] + 1
            before = conn.total_changes
            conn.executemany(_INSERT_OR_IGNORE, [_row(e) for e in events])
            inserted = conn.total_changes - before
            if inserted == len(events):
                return AppendResult(list(zip(range(first, first + inserted), events)), 0)
            new = dict(conn.execute("SELECT id, seq FROM events WHERE seq >= ?", (first,)).fetchall())
        accepted = []
        for e in events:
            seq = new.pop(e.id, None)  # pop: a repeat inside the batch is a duplicate too
            if seq is not None:
                accepted.append((seq, e))
        return AppendResult(accepted, len(events) - len(accepted))

    def append_columns(self, batches: Iterable[dict[str, list]]) -> tuple[int, int]:
        """Bulk insert column batches in ONE transaction; duplicates are skipped by the unique index.

        Only the columns a batch has are bound (binding NULLs costs as much as values), and
        an exception while producing a later batch rolls back the earlier ones.
        """
        conn = self.db.conn()
        inserted = total = 0
        with self.db.transaction():
            for batch in batches:
                names = list(batch)
                sql = f"INSERT OR IGNORE INTO events ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
                before = conn.total_changes
                conn.executemany(sql, zip(*batch.values()))
                inserted += conn.total_changes - before
                total += len(batch[names[0]])
        return inserted, total - inserted

    def read_since(self, seq: int, limit: int = 10_000) -> list[tuple[int, Event]]:
        rows = self.db.conn().execute(
            f"SELECT seq, {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()
        return [_event(r) for r in rows]

    def read_rows_since(self, seq: int, limit: int = 100_000) -> list[tuple]:
        """Raw rows ``(seq, type, user_id, session_id, item_id, item_ids_json, value, ts, context_json, query)``
        for fast replay into online state."""
        return self.db.conn().execute(
            "SELECT seq, type, user_id, session_id, item_id, item_ids, value, ts, context, query FROM events "
            "WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()

    def last_seq(self) -> int:
        return self.db.conn().execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def count(self) -> int:
        return self.db.conn().execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def changed(self) -> bool:
        version = self.db.data_version()
        if version != self._data_version:
            self._data_version = version
            return True
        return False
