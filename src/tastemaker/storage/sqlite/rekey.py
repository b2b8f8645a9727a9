"""Renaming user ids in place in SQLite: the storage half of a pseudonym key rotation
(privacy.rekey). Every column that holds a user id is rewritten through one function:
API event rows, the ``user_id`` column of every bulk-import segment, impressions and
browser-key bindings, in one transaction. Profiles go through the user store (PII traits are
sealed with the user id as associated data, so they are re-sealed, not renamed).
"""

from __future__ import annotations

from typing import Callable

import pyarrow as pa

from tastemaker.storage.sqlite import segments
from tastemaker.storage.sqlite.database import Database


def _table_has(conn, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))


def _rename_column(conn, table: str, column: str, rename: Callable[[str], str]) -> int:
    """Rewrite ``table.column`` through ``rename`` (a temp table of old -> new, one UPDATE)."""
    if not _table_has(conn, table, column):
        return 0  # an impression log or key table that was never created
    olds = [r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")]
    pairs = [(old, new) for old in olds if (new := rename(old)) != old]
    if not pairs:
        return 0
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS renamed_ids (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
    conn.execute("DELETE FROM renamed_ids")
    conn.executemany("INSERT INTO renamed_ids (old, new) VALUES (?, ?)", pairs)
    cur = conn.execute(f"UPDATE {table} SET {column} = (SELECT new FROM renamed_ids WHERE old = {table}.{column}) "
                       f"WHERE {column} IN (SELECT old FROM renamed_ids)")
    conn.execute("DELETE FROM renamed_ids")
    return cur.rowcount


def _rename_segments(conn, rename: Callable[[str], str]) -> int:
    rows = 0
    for first, body in conn.execute("SELECT first_seq, body FROM event_segments").fetchall():
        table = segments.decode(body)
        column = table.column("user_id")
        olds = column.to_pylist()
        news = [rename(u) for u in olds]
        changed = sum(a != b for a, b in zip(olds, news))
        if not changed:
            continue
        table = table.set_column(table.schema.get_field_index("user_id"), "user_id", pa.array(news, column.type))
        seqs = table.column("seq")
        conn.execute("UPDATE event_segments SET body = ? WHERE first_seq = ?",
                     (memoryview(segments.encode(table.drop_columns(["seq"]), seqs)), first))
        rows += changed
    return rows


def rename_user_ids(db: Database, rename: Callable[[str], str]) -> dict[str, int]:
    """Rewrite every user id in the event log, impressions and key bindings through
    ``rename`` (ids it returns unchanged stay); returns the rows changed per store."""
    with db.transaction() as conn:
        return {
            "event_rows": _rename_column(conn, "event_rows", "user_id", rename),
            "segment_rows": _rename_segments(conn, rename),
            "impressions": _rename_column(conn, "impressions", "user_id", rename),
            "keys": _rename_column(conn, "api_keys", "user_id", rename),
        }
