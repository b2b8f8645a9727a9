"""The SQLite audit log refuses rewrites, and a rewrite made behind its back breaks the chain."""

from __future__ import annotations

import sqlite3

import pytest

from tastemaker.config import Settings
from tastemaker.storage.audit_chain import verify
from tastemaker.storage.factory import open_stores


def test_update_and_delete_are_refused_and_a_file_edit_is_detected(tmp_path):
    settings = Settings(data_dir=tmp_path, durable=False)
    with open_stores(settings) as stores:
        for i in range(3):
            stores.audit.append("k1", "keys.create", f"k{i}", {"scopes": ["read"]}, "127.0.0.1")
    conn = sqlite3.connect(settings.db_path)
    for sql in ("UPDATE audit_log SET target = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    # Someone with the file drops the guard and edits a record: verification names it.
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("""UPDATE audit_log SET summary = '{"scopes":["admin"]}' WHERE seq = 2""")
    conn.commit()
    conn.close()
    with open_stores(settings) as stores:  # reopening restores the trigger, not the record
        result = verify(stores.audit.iter_all())
        assert (result.ok, result.bad_seq, result.records) == (False, 2, 1)
        assert "changed" in result.reason
