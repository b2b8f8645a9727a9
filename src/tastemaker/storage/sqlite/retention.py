"""Retention in SQLite: events older than their type's cut-off out of ``event_rows``, out of
bulk-import segments and out of the ``events`` id index, in one transaction.

A cut-off is a timestamp per event type, with one for every other type (``default``; None
keeps them). Segments are rewritten without the expired rows the way an erasure rewrites
them (``erasure._rewrite_segment``): the ``seq`` column says which seqs remain, a segment
left empty is deleted, and the seq floor keeps seqs from being reused.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from typing import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tastemaker.storage.sqlite import segments
from tastemaker.storage.sqlite.database import Database


def _where(cutoffs: Mapping[str, float], default: float | None) -> tuple[str, list]:
    """``ts < CASE type WHEN t THEN cut ... ELSE default END`` (NULL: never expires)."""
    params: list = []
    cases = ""
    for event_type, cut in cutoffs.items():
        cases += " WHEN ? THEN ?"
        params += [event_type, cut]
    params.append(default)
    return f"ts < CASE type{cases} ELSE ? END", params


def _expired_mask(table: pa.Table, cutoffs: Mapping[str, float], default: float | None) -> pa.ChunkedArray:
    types = table.column("type")
    cut = pa.array(np.full(table.num_rows, -math.inf if default is None else default))
    for event_type, value in cutoffs.items():
        cut = pc.if_else(pc.equal(types, event_type), pa.scalar(value, pa.float64()), cut)
    return pc.fill_null(pc.less(table.column("ts"), cut), False)


def expire_events(db: Database, cutoffs: Mapping[str, float], default: float | None,
                  last_seq_sql: str, dry_run: bool = False) -> dict[str, int]:
    """Delete (or, ``dry_run``, count) every event older than its type's cut-off; returns
    ``{type: how many}``."""
    where, params = _where(cutoffs, default)
    found: Counter[str] = Counter()
    with db.transaction() as conn:
        for event_type, n in conn.execute(f"SELECT type, COUNT(*) FROM event_rows WHERE {where} GROUP BY type", params):
            found[event_type] += n
        if not dry_run:
            last = conn.execute(last_seq_sql).fetchone()[0]
            conn.execute("DELETE FROM event_seq_floor")  # seqs are never reused, even the deleted latest
            conn.execute("INSERT INTO event_seq_floor (seq) VALUES (?)", (last,))
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS expired_seqs (seq INTEGER PRIMARY KEY)")
            conn.execute("DELETE FROM expired_seqs")
            conn.execute(f"INSERT INTO expired_seqs SELECT seq FROM event_rows WHERE {where}", params)
            conn.execute(f"DELETE FROM event_rows WHERE {where}", params)
        for first, body in conn.execute("SELECT first_seq, body FROM event_segments").fetchall():
            found.update(_segment(conn, first, body, cutoffs, default, dry_run))
        if not dry_run:
            conn.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM expired_seqs)")
            conn.execute("DELETE FROM expired_seqs")
    return dict(found)


def _segment(conn: sqlite3.Connection, first: int, body: bytes, cutoffs: Mapping[str, float],
             default: float | None, dry_run: bool) -> Counter[str]:
    table = segments.decode(body)
    expired = _expired_mask(table, cutoffs, default)
    if not pc.any(expired).as_py():
        return Counter()
    gone = table.filter(expired)
    counts = Counter(gone.column("type").to_pylist())
    if dry_run:
        return counts
    conn.executemany("INSERT OR IGNORE INTO expired_seqs (seq) VALUES (?)",
                     ((int(s),) for s in gone.column("seq").to_numpy()))
    kept = table.filter(pc.invert(expired))
    if not kept.num_rows:
        conn.execute("DELETE FROM event_segments WHERE first_seq = ?", (first,))
    else:
        conn.execute("UPDATE event_segments SET n = ?, body = ? WHERE first_seq = ?",
                     (kept.num_rows, memoryview(segments.encode(kept.drop_columns(["seq"]), kept.column("seq"))), first))
    return counts
