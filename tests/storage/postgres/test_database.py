"""storage.postgres.database: the schema in the URL, migrations applied once by racing workers,
counters as change tokens."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

import tastemaker.storage.postgres as _pg
from tastemaker.storage.postgres.database import split_schema

from ..postgres_service import POSTGRES_URL

MIGRATIONS = Path(_pg.__file__).parent / "migrations"


def test_the_schema_parameter_is_ours_not_libpqs():
    assert split_schema("postgresql://u@h:5432/db") == ("postgresql://u@h:5432/db", "public")
    assert split_schema("postgresql://u@h/db?schema=s1&connect_timeout=3") == ("postgresql://u@h/db?connect_timeout=3", "s1")


def test_workers_opening_a_fresh_schema_at_once_migrate_it_once(opener):
    opened, errors = [], []

    def open_one() -> None:
        try:
            opened.append(opener(False))
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [] and len(opened) == 4
        with psycopg.connect(POSTGRES_URL) as conn:
            applied = conn.execute(f"SELECT migration_id FROM {opener.schema}._yoyo_migration").fetchall()
        shipped = sorted(p.stem for p in MIGRATIONS.glob("0*.py"))
        assert sorted(a[0] for a in applied) == shipped and shipped[0] == "0001_initial"  # each applied once
        from tastemaker.schema.records import Item

        opened[0].items.upsert([Item(id="i1")])  # every one of them works on the same tables
        assert {s.items.changes_since(0)[0] for s in opened} == {1}
    finally:
        for stores in opened:
            stores.close()


def test_change_tokens_are_per_store(pg):
    from tastemaker.schema.records import Item

    keys, users = pg.keys.change_token(), pg.users.change_token()
    pg.items.upsert([Item(id="i1")])
    assert (pg.keys.change_token(), pg.users.change_token()) == (keys, users)
    pg.keys.create("k", frozenset({"read"}), "hash", "k1")
    assert pg.keys.change_token() != keys and pg.users.change_token() == users


def test_a_bad_url_fails_with_the_servers_reason(tmp_path):
    from tastemaker.storage.postgres.database import PostgresDatabase

    with pytest.raises(psycopg.OperationalError, match="no_such_db"):
        PostgresDatabase(POSTGRES_URL.rsplit("/", 1)[0] + "/no_such_db?schema=x")


def test_reads_survive_the_server_closing_every_pooled_connection(pg, opener):
    from tastemaker.schema.records import Item

    pg.items.upsert([Item(id="i1")])
    with pg.items.db.pool.connection() as a, pg.items.db.pool.connection() as b:  # two idle connections after this
        pids = [a.info.backend_pid, b.info.backend_pid]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        assert all(admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0] for pid in pids)
    assert pg.items.get("i1") == Item(id="i1")  # a read: retried on a fresh connection
    pg.items.upsert([Item(id="i2")])  # and the pool works again for writes
    assert pg.items.count() == 2
