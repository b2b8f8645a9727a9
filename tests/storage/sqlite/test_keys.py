"""storage.sqlite.keys: only the hash of a secret is stored."""

from __future__ import annotations

from tastemaker.storage.sqlite.database import Database
from tastemaker.storage.sqlite.keys import SQLiteKeyStore


def test_stored_columns(tmp_path):
    db = Database(tmp_path / "t.db", durable=False)
    try:
        SQLiteKeyStore(db).create("bot", frozenset({"b", "a"}), "sha256$abc", "k1")
        row = db.conn().execute("SELECT key_id, name, scopes, secret_hash, revoked FROM api_keys").fetchone()
        assert row == ("k1", "bot", "a,b", "sha256$abc", 0)
    finally:
        db.close()
