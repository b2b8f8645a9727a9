"""The event log in SQLite: append-only, deduplicated by event id, ordered by ``seq``.

Three tables (see ``database.SCHEMA``):

* ``events`` (id -> seq) is the idempotency index of every event, however it came in;
* ``event_rows`` holds events appended through the API, one row each;
* ``event_segments`` holds bulk imports as compressed Arrow blobs (``segments.py``).

The log is a sequence of non-overlapping runs of seqs: a segment's range never contains
``event_rows`` because an import holds the write transaction while it assigns seqs.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable, Sequence

import msgspec
import pyarrow as pa

from tastemaker.schema.records import Event
from tastemaker.storage.protocols import AppendResult
from tastemaker.storage.sqlite import erasure, retention, segments
from tastemaker.storage.sqlite.database import Database

_EVENT_COLUMNS = ("id", "type", "user_id", "session_id", "item_id", "item_ids", "value", "query", "context", "ts",
                  "recommendation_id", "properties", "schema_version")
_EVENT_ROW = ("seq", *_EVENT_COLUMNS)  # what _event() takes
_REPLAY_ROW = ("seq", "type", "user_id", "session_id", "item_id", "item_ids", "value", "ts", "context", "query")
_INSERT = f"INSERT INTO event_rows ({', '.join(_EVENT_ROW)}) VALUES ({', '.join('?' * len(_EVENT_ROW))})"
_LAST_SEQ = ("SELECT MAX((SELECT COALESCE(MAX(seq), 0) FROM event_rows), "
             "(SELECT COALESCE(MAX(last_seq), 0) FROM event_segments), "
             "(SELECT COALESCE(MAX(seq), 0) FROM event_seq_floor))")
_NEXT_SEGMENT = "SELECT first_seq, last_seq, n FROM event_segments WHERE last_seq > ? ORDER BY last_seq LIMIT 1"
_NO_SEGMENT = (2**62, 2**62, 0)  # "the next segment starts after every seq"

# Claiming ids: json_each feeds SQLite the whole batch in one statement, without a Python
# call per row, and ORDER BY inserts in key order (random ids would otherwise scatter
# writes over the whole B-tree). json_each cuts text at NUL, so such batches bind rows.
_CLAIM_JSON = "INSERT OR IGNORE INTO events (id, seq) SELECT value, key + ? FROM json_each(?) ORDER BY value"
_CLAIM_ROWS = "INSERT OR IGNORE INTO events (id, seq) VALUES (?, ?)"
_LOOKUP_CHUNK = 900  # host parameters per statement stay under SQLite's classic limit of 999

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


def _insert_ids(conn: sqlite3.Connection, ids: list[str], first: int) -> None:
    encoded = _encode(ids)
    if b"\\u0000" in encoded:
        conn.executemany(_CLAIM_ROWS, sorted(zip(ids, range(first, first + len(ids)))))
    else:  # text, not a blob: newer SQLite reads a blob argument as binary JSONB
        conn.execute(_CLAIM_JSON, (first, encoded.decode()))


def _unseen(conn: sqlite3.Connection, ids: list[str]) -> list[int] | None:
    """Indices of the ids neither logged yet nor repeated earlier in ``ids``; None when that is all of them."""
    seen: set[str] = set()
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start:start + _LOOKUP_CHUNK]
        sql = f"SELECT id FROM events WHERE id IN ({', '.join('?' * len(chunk))})"
        seen.update(r[0] for r in conn.execute(sql, chunk))
    keep = []
    for i, id_ in enumerate(ids):
        if id_ not in seen:
            seen.add(id_)  # a repeat inside the batch is a duplicate too; the first one wins
            keep.append(i)
    return None if len(keep) == len(ids) else keep


def _claim_optimistically(conn: sqlite3.Connection, ids: list[str], first: int) -> list[int] | None:
    """Record the new ids among ``ids`` in ``events`` with the seqs ``first``, ``first + 1``, ...

    Returns the indices of the new ones, or None when all were new. For bulk imports,
    where looking up every id first would cost as much as inserting it: the ids go in
    first, and are looked up only when some were ignored (a re-sent or overlapping file).
    """
    conn.execute("SAVEPOINT claim_ids")
    before = conn.total_changes
    _insert_ids(conn, ids, first)
    claimed = conn.total_changes - before
    if claimed == len(ids) or claimed == 0:  # all new, or all known (a re-import): nothing to undo
        conn.execute("RELEASE claim_ids")
        return None if claimed else []
    # Some were known (or repeated): undo the provisional seqs, which now have holes.
    conn.execute("ROLLBACK TO claim_ids")
    conn.execute("RELEASE claim_ids")
    keep = _unseen(conn, ids)
    assert keep is not None  # some ids were ignored above
    _insert_ids(conn, [ids[i] for i in keep], first)
    return keep


class SQLiteEventLog:
    """:class:`~tastemaker.storage.protocols.EventLog` on SQLite."""

    def __init__(self, db: Database):
        self.db = db
        self._data_version = -1
        self._change_token = b""
        # The segment being read: replay reads one in several chunks, decode it once.
        self._cached: tuple[tuple[int, int, int], pa.Table] | None = None

    def append(self, events: Sequence[Event]) -> AppendResult:
        """Append the events whose ids are new, with contiguous seqs, in one durable transaction."""
        if not events:
            return AppendResult([], 0)
        with self.db.transaction() as conn:
            first = conn.execute(_LAST_SEQ).fetchone()[0] + 1
            # Look up first (no savepoint): a savepoint journals every page it touches to a
            # temp file, which costs small API batches more than the lookup (measured).
            ids = [e.id for e in events]
            keep = _unseen(conn, ids)
            new = list(events) if keep is None else [events[i] for i in keep]
            _insert_ids(conn, ids if keep is None else [e.id for e in new], first)
            accepted = list(zip(range(first, first + len(new)), new))
            conn.executemany(_INSERT, [(seq, *_row(e)) for seq, e in accepted])
        return AppendResult(accepted, len(events) - len(new))

    def append_columns(self, batches: Iterable[dict[str, list]]) -> tuple[int, int]:
        """Bulk-append column batches as segments in ONE transaction; known ids are skipped.

        Each batch becomes a segment of its new rows (absent columns read back as NULL).
        An exception while producing a later batch rolls back the earlier ones.
        """
        conn = self.db.conn()
        inserted = total = 0
        prepared = segments.prefetched(batches)
        try:
            with self.db.transaction():
                next_seq = conn.execute(_LAST_SEQ).fetchone()[0] + 1
                for ids, table in prepared:
                    keep = _claim_optimistically(conn, ids, next_seq)
                    if keep is not None:
                        table = table.take(pa.array(keep, pa.int64()))
                    segments.write(conn, table, next_seq)
                    next_seq += table.num_rows
                    inserted += table.num_rows
                    total += len(ids)
        except BaseException:
            self._cached = None  # it may hold a segment that was just rolled back
            raise
        finally:
            prepared.close()
        return inserted, total - inserted

    def read_since(self, seq: int, limit: int = 10_000) -> list[tuple[int, Event]]:
        return [_event(r) for r in self._read(seq, limit, _EVENT_ROW)]

    def read_rows_since(self, seq: int, limit: int = 100_000) -> list[tuple]:
        """Raw rows ``(seq, type, user_id, session_id, item_id, item_ids_json, value, ts, context_json, query)``
        for fast replay into online state."""
        return self._read(seq, limit, _REPLAY_ROW)

    def _read(self, seq: int, limit: int, names: tuple[str, ...]) -> list[tuple]:
        """Up to ``limit`` rows after ``seq`` in log order, run by run (a segment, or API rows up to the next one)."""
        conn = self.db.conn()
        select = f"SELECT {', '.join(names)} FROM event_rows WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?"
        out: list[tuple] = []
        # One snapshot for all statements: a writer committing between them must not
        # make us step over its seqs.
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")
        try:
            while len(out) < limit:
                first, last, n = conn.execute(_NEXT_SEGMENT, (seq,)).fetchone() or _NO_SEGMENT
                if first <= seq + 1:  # seq + 1 is inside this segment
                    stop = min(last, seq + limit - len(out))
                    out += segments.rows_between(self._segment(conn, first, last, n), first, names, seq + 1, stop + 1)
                    if stop == last:
                        self._cached = None  # read to its end: free it rather than hold it while serving
                    seq = stop
                    continue
                want = limit - len(out)
                got = conn.execute(select, (seq, first, want)).fetchall()
                out += got
                if len(got) == want or first == _NO_SEGMENT[0]:
                    break  # full, or nothing left anywhere
                seq = first - 1  # the API rows before that segment are all read
        finally:
            if own:
                conn.execute("COMMIT")
        return out

    def _segment(self, conn: sqlite3.Connection, first: int, last: int, n: int) -> pa.Table:
        cached = self._cached
        if cached is not None and cached[0] == (first, last, n):  # n changes when an erasure rewrites it
            return cached[1]
        body = conn.execute("SELECT body FROM event_segments WHERE first_seq = ?", (first,)).fetchone()[0]
        table = segments.decode(body)
        self._cached = ((first, last, n), table)
        return table

    def events_for_user(self, user_id: str, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, Event]]:
        """A page of ``user_id``'s events after ``after_seq``, in log order, every field.

        One pass over the log split into pages: API rows are read by seq range (the rowid
        B-tree, so a page resumes where the last one stopped instead of scanning again) and a
        segment is decoded and filtered to the user's rows (decoded again only when a page
        ends inside it). Fewer than ``limit`` means the log was read to its end. A scan, not
        an index look-up: there is no index by user (it would cost every ingest), and exports
        are rare.
        """
        conn = self.db.conn()
        select = (f"SELECT {', '.join(_EVENT_ROW)} FROM event_rows "
                  "WHERE seq > ? AND seq < ? AND user_id = ? ORDER BY seq LIMIT ?")
        out: list[tuple[int, Event]] = []
        seq = after_seq
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")  # one snapshot of rows and segments for the page
        try:
            while len(out) < limit:
                first, last, _ = conn.execute(_NEXT_SEGMENT, (seq,)).fetchone() or _NO_SEGMENT
                if first <= seq + 1:  # seq + 1 is inside this segment: the user's rows of it, after seq
                    body = conn.execute("SELECT body FROM event_segments WHERE first_seq = ?", (first,)).fetchone()[0]
                    want = limit - len(out)
                    rows = segments.user_rows(segments.decode(body), user_id, _EVENT_ROW, seq, want + 1)
                    out += [_event(r) for r in rows[:want]]
                    seq = rows[want - 1][0] if len(rows) > want else last  # a full page resumes inside the segment
                    continue
                want = limit - len(out)
                got = conn.execute(select, (seq, first, user_id, want)).fetchall()
                out += [_event(r) for r in got]
                if len(got) == want or first == _NO_SEGMENT[0]:
                    break  # full, or nothing left anywhere
                seq = first - 1  # the API rows before that segment are all read
        finally:
            if own:
                conn.execute("COMMIT")
        return out

    def user_rows(self, user_id: str) -> list[tuple]:
        """Every logged row of ``user_id`` as :meth:`read_rows_since` gives them, in log order."""
        return erasure.user_rows(self.db, user_id, _REPLAY_ROW)

    def erase_user(self, user_id: str) -> int:
        """Delete every event of ``user_id`` (API rows, segment rows, their ids); returns how many."""
        self._cached = None
        return erasure.erase_events(self.db, user_id, _LAST_SEQ)

    def expire(self, cutoffs: dict[str, float], default: float | None, dry_run: bool = False) -> dict[str, int]:
        """Delete every event older than its type's cut-off (``default`` for other types,
        None keeps them): API rows, segment rows, their ids; returns ``{type: how many}``."""
        self._cached = None
        return retention.expire_events(self.db, cutoffs, default, _LAST_SEQ, dry_run)

    def last_seq(self) -> int:
        return self.db.conn().execute(_LAST_SEQ).fetchone()[0]

    def count(self) -> int:
        return self.db.conn().execute(
            "SELECT (SELECT COUNT(*) FROM event_rows) + (SELECT COALESCE(SUM(n), 0) FROM event_segments)"
        ).fetchone()[0]

    def changed(self) -> bool:
        token = self.db.change_token()
        if token == self._change_token:
            return False  # no write transaction committed anywhere since the last look
        self._change_token = token  # read before data_version: a commit after it changes it again
        version = self.db.data_version()
        if version != self._data_version:
            self._data_version = version
            return True
        return False
