"""Versioned documents (items, users) in PostgreSQL, as the SQLite tables keep them.

Every write takes the table's counter row lock, stamps its rows with the next version and
commits; versions are therefore committed in order and ``changes_since`` misses nothing. A
delete leaves a tombstone (``body`` NULL); an erasure removes the row.
"""

from __future__ import annotations

from typing import Generic, Iterator, Sequence, TypeVar

import msgspec

from tastemaker.schema.records import Item, User
from tastemaker.storage.postgres.database import PostgresDatabase

D = TypeVar("D", Item, User)


class PostgresDocumentTable(Generic[D]):
    """Items or users: upsert, get, delete, changes since a version, a change token."""

    def __init__(self, db: PostgresDatabase, table: str, cls: type[D]):
        assert table in ("items", "users")
        self.db = db
        self.table = table
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(cls).decode

    def upsert(self, docs: Sequence[D]) -> int:
        with self.db.transaction(self.table) as conn:
            version = self.db.bump(conn, self.table)
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {self.table} (id, body, version) VALUES (%s, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET body = excluded.body, version = excluded.version",
                    [(d.id, self._encode(d), version) for d in docs],
                )
        return version

    def get(self, doc_id: str) -> D | None:
        row = self.db.read_one(f"SELECT body FROM {self.table} WHERE id = %s", (doc_id,))
        return self._decode(row[0]) if row and row[0] is not None else None

    def delete(self, doc_id: str) -> bool:
        with self.db.transaction(self.table) as conn:
            version = self.db.bump(conn, self.table)
            cur = conn.execute(f"UPDATE {self.table} SET body = NULL, version = %s WHERE id = %s AND body IS NOT NULL",
                               (version, doc_id))
            return cur.rowcount > 0

    def erase_user(self, doc_id: str) -> int:
        """Remove the row itself (no tombstone naming the user); 1 when there was one."""
        with self.db.transaction(self.table) as conn:
            self.db.bump(conn, self.table)
            return conn.execute(f"DELETE FROM {self.table} WHERE id = %s", (doc_id,)).rowcount

    def change_token(self) -> bytes:
        """The table's counter: every write, in any process on any machine, moves it."""
        return self.db.token(self.table)

    def changes_since(self, version: int) -> tuple[int, list[tuple[str, D | None]]]:
        rows = self.db.read_all(f"SELECT id, body, version FROM {self.table} WHERE version > %s ORDER BY version, id",
                                (version,))
        latest = max((r[2] for r in rows), default=version)
        return latest, [(r[0], self._decode(r[1]) if r[1] is not None else None) for r in rows]

    def count(self) -> int:
        return self.db.read_one(f"SELECT COUNT(*) FROM {self.table} WHERE body IS NOT NULL")[0]

    def iter_all(self) -> Iterator[D]:
        # A server-side cursor: a large catalogue streams in pages, never whole in memory.
        with self.db.connection() as conn, conn.transaction():
            with conn.cursor(name=f"iter_{self.table}") as cur:
                cur.execute(f"SELECT body FROM {self.table} WHERE body IS NOT NULL")
                for (body,) in cur:
                    yield self._decode(body)


def PostgresItemCatalog(db: PostgresDatabase) -> PostgresDocumentTable[Item]:
    return PostgresDocumentTable(db, "items", Item)


def PostgresUserStore(db: PostgresDatabase) -> PostgresDocumentTable[User]:
    return PostgresDocumentTable(db, "users", User)
