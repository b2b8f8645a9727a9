"""Erasure in SQLite: a user's events out of ``event_rows`` and out of bulk-import segments,
the erased-user tombstones, and reclaiming the space so deleted bytes leave the files.

A segment holds a run of seqs; erasing rows from it leaves holes, so a segment body is
rewritten without those rows (its ``seq`` column says which seqs remain) and ``n`` counts
what is left; reads find rows by that column (``segments.rows_between``). A segment left
empty is deleted. The ``events`` id index loses the erased events' ids too (ids may embed
the user id): a replayed file could then be logged again, which the tombstone refuses.
"""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pyarrow.compute as pc

from tastemaker.storage.sqlite import segments
from tastemaker.storage.sqlite.database import Database

TOMBSTONE_SCHEMA = """
CREATE TABLE IF NOT EXISTS erased_users (
    digest TEXT PRIMARY KEY,
    erased_at REAL NOT NULL
) WITHOUT ROWID;
"""


def user_rows(db: Database, user_id: str, names: tuple[str, ...]) -> list[tuple]:
    """Every logged row of ``user_id`` as ``names`` (``seq`` first), in log order: API rows and
    segment rows (a full scan: there is no index by user, and a lookup is rare)."""
    conn = db.conn()
    out: list[tuple] = []
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")  # one snapshot of the rows and the segments
    try:
        out += conn.execute(f"SELECT {', '.join(names)} FROM event_rows WHERE user_id = ?", (user_id,)).fetchall()
        for (body,) in conn.execute("SELECT body FROM event_segments"):
            table = segments.decode(body)
            mine = table.filter(pc.equal(table.column("user_id"), user_id))
            if mine.num_rows:
                out += segments.rows(mine, names, 0, mine.num_rows)
    finally:
        if own:
            conn.execute("COMMIT")
    out.sort(key=lambda row: row[0])
    return out


def erase_events(db: Database, user_id: str, last_seq_sql: str) -> int:
    """Delete ``user_id``'s events everywhere in the log in one transaction; returns how many."""
    with db.transaction() as conn:
        last = conn.execute(last_seq_sql).fetchone()[0]
        conn.execute("DELETE FROM event_seq_floor")
        conn.execute("INSERT INTO event_seq_floor (seq) VALUES (?)", (last,))
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS erased_seqs (seq INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM erased_seqs")
        conn.execute("INSERT INTO erased_seqs SELECT seq FROM event_rows WHERE user_id = ?", (user_id,))
        erased = conn.execute("DELETE FROM event_rows WHERE user_id = ?", (user_id,)).rowcount
        for first, body in conn.execute("SELECT first_seq, body FROM event_segments").fetchall():
            erased += _rewrite_segment(conn, first, body, user_id)
        # the id index has no seq index: one pass over it, matching the collected seqs
        conn.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM erased_seqs)")
        conn.execute("DELETE FROM erased_seqs")
    return erased


def _rewrite_segment(conn: sqlite3.Connection, first: int, body: bytes, user_id: str) -> int:
    table = segments.decode(body)
    mine = pc.equal(table.column("user_id"), user_id)
    hits = int(pc.sum(mine).as_py() or 0)
    if not hits:
        return 0
    seqs = table.column("seq").filter(mine).to_numpy()
    conn.executemany("INSERT OR IGNORE INTO erased_seqs (seq) VALUES (?)", ((int(s),) for s in seqs))
    kept = table.filter(pc.invert(mine))
    if not kept.num_rows:
        conn.execute("DELETE FROM event_segments WHERE first_seq = ?", (first,))
        return hits
    kept_seqs = kept.column("seq").to_numpy()
    assert np.all(np.diff(kept_seqs) > 0)  # still in log order
    conn.execute("UPDATE event_segments SET n = ?, body = ? WHERE first_seq = ?",
                 (kept.num_rows, memoryview(segments.encode(kept.drop_columns(["seq"]), kept.column("seq"))), first))
    return hits


def _ensure_tombstones(db: Database) -> sqlite3.Connection:
    conn = db.conn()
    conn.executescript(TOMBSTONE_SCHEMA)
    return conn


class SQLiteErasedUsers:
    """:class:`~tastemaker.storage.protocols.ErasedUsers` on SQLite: keyed digests only, never ids."""

    def __init__(self, db: Database):
        self.db = db
        _ensure_tombstones(db)

    def add(self, digest: str, ts: float | None = None) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO erased_users (digest, erased_at) VALUES (?, ?)",
                               (digest, time.time() if ts is None else ts))
        return cur.rowcount > 0

    def contains(self, digest: str) -> bool:
        row = self.db.conn().execute("SELECT 1 FROM erased_users WHERE digest = ?", (digest,)).fetchone()
        return row is not None

    def all(self) -> set[str]:
        return {r[0] for r in self.db.conn().execute("SELECT digest FROM erased_users")}

    def count(self) -> int:
        return self.db.conn().execute("SELECT COUNT(*) FROM erased_users").fetchone()[0]


def reclaim(db: Database) -> None:
    """Make deleted rows leave the files: checkpoint the WAL into the database, rebuild the
    database without its free pages (``VACUUM``), and truncate the WAL to zero bytes.

    Each step waits for readers (busy timeout); a checkpoint that readers keep from finishing
    is retried, because a WAL frame from before the erase may still hold the old pages."""
    conn = db.conn()
    for _ in range(50):
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if not busy:
            break
        time.sleep(0.1)
    conn.execute("VACUUM")
    for _ in range(50):
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if not busy:
            return
        time.sleep(0.1)
    raise sqlite3.OperationalError("the WAL could not be truncated: a reader held it for 5 s")
