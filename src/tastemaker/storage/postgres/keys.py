"""API keys and OAuth clients in PostgreSQL; only a hash of each secret is stored."""

from __future__ import annotations

import time

from tastemaker.storage.key_rows import COLUMNS, insert_params, key_record
from tastemaker.storage.postgres.database import PostgresDatabase
from tastemaker.storage.protocols import ApiKeyRecord


class PostgresKeyStore:
    """:class:`~tastemaker.storage.protocols.KeyStore` on PostgreSQL; the change token is the
    ``keys`` counter, moved in the transaction of every key write."""

    def __init__(self, db: PostgresDatabase):
        self.db = db

    def create(self, name: str, scopes: frozenset[str], secret_hash: str, key_id: str, *, kind: str = "key",
               user_id: str | None = None, placements: frozenset[str] | None = None) -> ApiKeyRecord:
        record = ApiKeyRecord(key_id, name, scopes, time.time(), False, kind, user_id, placements)
        with self.db.transaction() as conn:
            conn.execute(
                f"INSERT INTO api_keys ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, FALSE, %s, %s, %s)",
                insert_params(record, secret_hash),
            )
            self.db.bump(conn, "keys")
        return record

    def find(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        row = self.db.read_one(f"SELECT {COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,))
        return (key_record(row), row[3]) if row else None

    def list(self) -> list[ApiKeyRecord]:
        return [key_record(r) for r in self.db.read_all(f"SELECT {COLUMNS} FROM api_keys ORDER BY created_at, key_id")]

    def revoke(self, key_id: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE api_keys SET revoked = TRUE WHERE key_id = %s AND NOT revoked", (key_id,))
            self.db.bump(conn, "keys")
            return cur.rowcount > 0

    def erase_user(self, user_id: str) -> int:
        """Delete the browser keys bound to ``user_id`` (the rows: the id must leave the database)."""
        with self.db.transaction() as conn:
            n = conn.execute("DELETE FROM api_keys WHERE user_id = %s", (user_id,)).rowcount
            if n:
                self.db.bump(conn, "keys")
            return n

    def change_token(self) -> bytes:
        return self.db.token("keys")
