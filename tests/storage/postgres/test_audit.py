"""storage.postgres.audit: the table refuses every change but an append."""

from __future__ import annotations

import psycopg
import pytest


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"])
def test_history_cannot_be_rewritten_through_sql(pg, sql):
    pg.audit.append("cli", "keys.create", "k1", {"scopes": ["read"]}, "local")
    with pg.audit.db.connection() as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute(sql)
    assert [r.actor for r in pg.audit.iter_all()] == ["cli"]
