"""API keys in SQLite; only a hash of each secret is stored."""

from __future__ import annotations

import os
import time

from tastemaker.storage.protocols import ApiKeyRecord
from tastemaker.storage.sqlite.database import Database, change_token_file


def _record(row: tuple) -> ApiKeyRecord:
    key_id, name, scopes, _hash, created_at, revoked = row
    return ApiKeyRecord(key_id, name, frozenset(s for s in scopes.split(",") if s), created_at, bool(revoked))


class SQLiteKeyStore:
    """Keys, plus a change token of their own (``<db>-keys-changes``, a shared memory map).

    The token is not the database's: that one changes with every event posted, and a key
    cache flushed on every event would ask SQLite on most requests.
    """

    def __init__(self, db: Database):
        self.db = db
        self._changes = change_token_file(db.path, "-keys-changes")

    def erase_user(self, user_id: str) -> int:
        """Keys are not bound to users (a key belongs to a client application), so none is
        removed; a backend with per-user keys deletes them here. Returns how many."""
        return 0

    def create(self, name: str, scopes: frozenset[str], secret_hash: str, key_id: str) -> ApiKeyRecord:
        record = ApiKeyRecord(key_id, name, scopes, time.time())
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO api_keys(key_id, name, scopes, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (key_id, name, ",".join(sorted(scopes)), secret_hash, record.created_at),
            )
        self._changed()
        return record

    def find(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        row = self.db.conn().execute(
            "SELECT key_id, name, scopes, secret_hash, created_at, revoked FROM api_keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        return (_record(row), row[3]) if row else None

    def list(self) -> list[ApiKeyRecord]:
        rows = self.db.conn().execute(
            "SELECT key_id, name, scopes, secret_hash, created_at, revoked FROM api_keys ORDER BY created_at"
        ).fetchall()
        return [_record(r) for r in rows]

    def revoke(self, key_id: str) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE api_keys SET revoked = 1 WHERE key_id = ? AND revoked = 0", (key_id,))
        self._changed()  # after the commit, before revoke() returns: the caller's "done" holds everywhere
        return cur.rowcount > 0

    def change_token(self) -> bytes:
        """8 bytes that every key write, in any process sharing the data dir, replaces.

        A memory read (no system call, ~0.1 us), cheap enough to check on every request.
        """
        return self._changes[:8]

    def _changed(self) -> None:
        self._changes[:8] = os.urandom(8)
