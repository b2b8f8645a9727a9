"""The schema copy: every table's rows and the sequences, in one snapshot, loaded into a schema
of another name; a schema that holds data is refused (nothing written) unless forced."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tastemaker.storage.postgres.dump import DumpError, dump_schema, restore_schema

from ..postgres_service import POSTGRES_URL, require_postgres


@pytest.fixture
def urls():
    require_postgres()
    sep = "&" if "?" in POSTGRES_URL else "?"
    schemas = [f"test_{uuid.uuid4().hex}" for _ in range(2)]
    yield [f"{POSTGRES_URL}{sep}schema={s}" for s in schemas]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for s in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))


def test_a_copy_loads_into_a_schema_of_another_name_with_rows_and_sequences(urls, tmp_path: Path):
    from tastemaker.storage.postgres import database

    src, dst = urls
    database.migrate(*database.split_schema(src))
    conninfo = database.split_schema(src)[0]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        schema = database.split_schema(src)[1]
        conn.execute(sql.SQL("INSERT INTO {}.items (id, body, version) VALUES ('a', 'x', 1)").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SELECT nextval('{}.artifact_stamps')").format(sql.SQL(schema)))
    description = dump_schema(src, tmp_path / "pg", inside=lambda: "marker")
    assert description["inside"] == "marker" and description["schema"] == schema
    tables = [t["name"] for t in description["tables"]]
    assert tables.index("artifacts") < tables.index("artifact_chunks")  # parents first
    assert not any(t.startswith("_yoyo") for t in tables)
    assert {t["name"]: t["rows"] for t in description["tables"]}["items"] == 1
    restore_schema(dst, tmp_path / "pg", description)
    target = database.split_schema(dst)[1]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute(sql.SQL("SELECT id, body, version FROM {}.items").format(sql.Identifier(target))).fetchall() \
            == [("a", b"x", 1)]
        assert conn.execute(sql.SQL("SELECT last_value FROM {}.artifact_stamps").format(sql.Identifier(target))).fetchone()[0] \
            == description["sequences"]["artifact_stamps"][0]


def test_a_schema_that_holds_data_is_refused_unless_forced(urls, tmp_path: Path):
    from tastemaker.storage.postgres import database

    src, dst = urls
    database.migrate(*database.split_schema(src))
    description = dump_schema(src, tmp_path / "pg")
    database.migrate(*database.split_schema(dst))
    conninfo, target = database.split_schema(dst)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("INSERT INTO {}.items (id, body, version) VALUES ('mine', 'y', 1)").format(sql.Identifier(target)))
        conn.execute(sql.SQL("INSERT INTO {}.audit_log (seq, ts, actor, action, target, summary, address, prev_hash, hash) "
                             "SELECT 1, 0, 'a', 'b', 'c', '{{}}', 'd', '', 'h'").format(sql.Identifier(target)))
    with pytest.raises(DumpError, match="holds data"):
        restore_schema(dst, tmp_path / "pg", description)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}.items").format(sql.Identifier(target))).fetchone()[0] == 1
    restore_schema(dst, tmp_path / "pg", description, force=True)  # replaced: the audit log's triggers too
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}.items").format(sql.Identifier(target))).fetchone()[0] == 0
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}.audit_log").format(sql.Identifier(target))).fetchone()[0] == 0
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):  # the triggers are back on
            conn.execute(sql.SQL("DELETE FROM {}.counters; TRUNCATE {}.audit_log").format(
                sql.Identifier(target), sql.Identifier(target)))
