"""Versioned documents (items, users) in SQLite.

Every write stamps rows with a new catalog version; a delete leaves a tombstone (``body``
NULL). Other processes follow changes with :meth:`changes_since`, so several workers share
one data dir without missing an update or a delete.
"""

from __future__ import annotations

import os
from typing import Generic, Iterator, Sequence, TypeVar

import msgspec

from tastemaker.schema.records import Item, User
from tastemaker.storage.sqlite.database import Database, change_token_file

D = TypeVar("D", Item, User)


class SQLiteDocumentTable(Generic[D]):
    """Items or users: upsert, get, delete, changes since a version."""

    def __init__(self, db: Database, table: str, cls: type[D]):
        assert table in ("items", "users")
        self.db = db
        self.table = table
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(cls).decode
        # A token of this table's own (``<db>-users-changes``): the database's changes with
        # every event posted, and readers of user documents (consent) must not ask SQLite then.
        self._changes = change_token_file(db.path, f"-{table}-changes")

    def _next_version(self, conn) -> int:
        return conn.execute(f"SELECT COALESCE(MAX(version), 0) + 1 FROM {self.table}").fetchone()[0]

    def upsert(self, docs: Sequence[D]) -> int:
        with self.db.transaction() as conn:
            version = self._next_version(conn)
            conn.executemany(
                f"INSERT INTO {self.table}(id, body, version) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET body = excluded.body, version = excluded.version",
                [(d.id, self._encode(d), version) for d in docs],
            )
        self._changed()
        return version

    def get(self, doc_id: str) -> D | None:
        row = self.db.conn().execute(f"SELECT body FROM {self.table} WHERE id = ?", (doc_id,)).fetchone()
        return self._decode(row[0]) if row and row[0] is not None else None

    def delete(self, doc_id: str) -> bool:
        with self.db.transaction() as conn:
            version = self._next_version(conn)
            cur = conn.execute(
                f"UPDATE {self.table} SET body = NULL, version = ? WHERE id = ? AND body IS NOT NULL", (version, doc_id)
            )
        self._changed()
        return cur.rowcount > 0

    def erase_user(self, doc_id: str) -> int:
        """Remove the row itself, not just its body (a delete keeps the id as a tombstone for
        followers; an erasure must not): 1 when there was a row. Followers of
        :meth:`changes_since` miss this removal, which is why erasure also drops the user
        from online state itself."""
        with self.db.transaction() as conn:
            cur = conn.execute(f"DELETE FROM {self.table} WHERE id = ?", (doc_id,))
        self._changed()
        return cur.rowcount

    def change_token(self) -> bytes:
        """8 bytes that every write to this table, in any process sharing the data dir, replaces
        (a shared memory map: no system call)."""
        return self._changes[:8]

    def _changed(self) -> None:
        self._changes[:8] = os.urandom(8)  # after the commit: a reader that sees it finds the rows

    def changes_since(self, version: int) -> tuple[int, list[tuple[str, D | None]]]:
        rows = self.db.conn().execute(
            f"SELECT id, body, version FROM {self.table} WHERE version > ? ORDER BY version", (version,)
        ).fetchall()
        latest = max((r[2] for r in rows), default=version)
        return latest, [(r[0], self._decode(r[1]) if r[1] is not None else None) for r in rows]

    def count(self) -> int:
        return self.db.conn().execute(f"SELECT COUNT(*) FROM {self.table} WHERE body IS NOT NULL").fetchone()[0]

    def iter_all(self) -> Iterator[D]:
        for (body,) in self.db.conn().execute(f"SELECT body FROM {self.table} WHERE body IS NOT NULL"):
            yield self._decode(body)


def SQLiteItemCatalog(db: Database) -> SQLiteDocumentTable[Item]:
    return SQLiteDocumentTable(db, "items", Item)


def SQLiteUserStore(db: Database) -> SQLiteDocumentTable[User]:
    return SQLiteDocumentTable(db, "users", User)
