"""API keys and OAuth clients in SQLite; only a hash of each secret is stored."""

from __future__ import annotations

import os
import time

from tastemaker.storage.key_rows import COLUMNS, insert_params, key_record
from tastemaker.storage.protocols import ApiKeyRecord
from tastemaker.storage.sqlite.database import Database, change_token_file

# Columns added after the first release: added in place to an older file (NULL/'key' for old rows).
_ADDED = (("kind", "TEXT NOT NULL DEFAULT 'key'"), ("user_id", "TEXT"), ("placements", "TEXT"))


class SQLiteKeyStore:
    """Keys, plus a change token of their own (``<db>-keys-changes``, a shared memory map).

    The token is not the database's: that one changes with every event posted, and a key
    cache flushed on every event would ask SQLite on most requests.
    """

    def __init__(self, db: Database):
        self.db = db
        self._changes = change_token_file(db.path, "-keys-changes")
        self._add_columns()

    def _add_columns(self) -> None:
        conn = self.db.conn()
        have = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info('api_keys')")}
        missing = [(n, t) for n, t in _ADDED if n not in have]
        if not missing:
            return
        with self.db.transaction() as conn:
            have = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info('api_keys')")}  # again: another process
            for name, decl in missing:
                if name not in have:
                    conn.execute(f"ALTER TABLE api_keys ADD COLUMN {name} {decl}")

    def erase_user(self, user_id: str) -> int:
        """Delete the browser keys bound to ``user_id`` (the rows, not a revoked mark: the id
        must leave the file). Returns how many."""
        with self.db.transaction() as conn:
            cur = conn.execute("DELETE FROM api_keys WHERE user_id = ?", (user_id,))
        if cur.rowcount:
            self._changed()
        return cur.rowcount

    def create(self, name: str, scopes: frozenset[str], secret_hash: str, key_id: str, *, kind: str = "key",
               user_id: str | None = None, placements: frozenset[str] | None = None) -> ApiKeyRecord:
        record = ApiKeyRecord(key_id, name, scopes, time.time(), False, kind, user_id, placements)
        with self.db.transaction() as conn:
            conn.execute(
                f"INSERT INTO api_keys({COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)",
                insert_params(record, secret_hash),
            )
        self._changed()
        return record

    def find(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        row = self.db.conn().execute(f"SELECT {COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return (key_record(row), row[3]) if row else None

    def list(self) -> list[ApiKeyRecord]:
        rows = self.db.conn().execute(f"SELECT {COLUMNS} FROM api_keys ORDER BY created_at").fetchall()
        return [key_record(r) for r in rows]

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
