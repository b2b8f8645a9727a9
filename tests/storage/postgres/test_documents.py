"""storage.postgres.documents: versions are committed in the order they are given out, so a
follower of ``changes_since`` never passes over a write that commits late."""

from __future__ import annotations

import threading

import psycopg

from tastemaker.schema.records import Item


def _waiting(conn: psycopg.Connection) -> int:
    """How many sessions wait for a lock in a document write (pg_stat_activity, not the clock):
    A on the row of ``x``, B on the ``items`` counter."""
    return conn.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND (query LIKE 'INSERT INTO items%%' OR query LIKE 'SELECT value FROM counters%%')").fetchone()[0]


def test_a_later_writer_waits_for_an_earlier_one_to_commit(pg, opener):
    from ..postgres_service import POSTGRES_URL

    pg.items.upsert([Item(id="x")])
    v0 = pg.items.changes_since(0)[0]
    other = opener(False)
    blocker = psycopg.connect(POSTGRES_URL, options=f"-c search_path={opener.schema}")
    watcher = psycopg.connect(POSTGRES_URL, autocommit=True)
    try:
        blocker.execute("SELECT 1 FROM items WHERE id = 'x' FOR UPDATE")  # holds x: A stalls after taking its version
        a = threading.Thread(target=pg.items.upsert, args=([Item(id="x", title="A")],))
        a.start()
        while _waiting(watcher) < 1 and a.is_alive():
            pass
        assert a.is_alive()
        b = threading.Thread(target=other.items.upsert, args=([Item(id="y", title="B")],))
        b.start()
        while _waiting(watcher) < 2 and b.is_alive():
            pass
        assert b.is_alive(), "B committed a later version while A's was still open"
        assert pg.items.changes_since(v0) == (v0, [])  # nothing visible yet: nothing to skip later
        blocker.rollback()
        a.join()
        b.join()
        latest, changes = pg.items.changes_since(v0)
        assert [(doc_id, item.title) for doc_id, item in changes] == [("x", "A"), ("y", "B")]
        assert latest == v0 + 2
    finally:
        blocker.close()
        watcher.close()
        other.close()
