"""A consistent copy of one deployment's PostgreSQL schema, and its restore into another.

Why COPY and not ``pg_dump``: a restore must be able to land in a schema of another name (a
fresh one, or a second deployment beside the first), which ``pg_restore`` cannot rename, and
COPY needs no client binary of the server's exact version. :func:`dump_schema` reads every
table of the schema with ``COPY ... TO STDOUT (FORMAT BINARY)`` inside one ``REPEATABLE READ
READ ONLY`` transaction, so all tables are one snapshot while writers go on; the sequences'
positions and the applied migrations are read in the same snapshot. :func:`restore_schema`
migrates the target schema (the same yoyo steps), checks it holds no data (or empties it
with ``force``) and loads every table in one transaction, parents before children (foreign
keys), then sets the sequences: all or nothing.

yoyo's bookkeeping tables are not copied: the target's own migration run writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from tastemaker.storage.postgres.database import migrate, split_schema

SKIPPED_PREFIXES = ("_yoyo", "yoyo")  # yoyo's bookkeeping: written by the target's own migration
CHUNK = 1 << 20
_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename"
_FOREIGN_KEYS = ("SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
                 "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = %s")
_COLUMNS = ("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position")
_SEQUENCES = "SELECT sequencename FROM pg_sequences WHERE schemaname = %s ORDER BY sequencename"


class DumpError(Exception):
    """The schema cannot be copied or restored; the message says why."""


def _tables(conn: psycopg.Connection, schema: str) -> list[str]:
    """The schema's data tables, each after the tables its foreign keys point to."""
    names = [t for (t,) in conn.execute(_TABLES, (schema,)) if not t.startswith(SKIPPED_PREFIXES)]
    parents: dict[str, set[str]] = {t: set() for t in names}
    for child, parent in conn.execute(_FOREIGN_KEYS, (schema,)):
        child, parent = child.split(".")[-1].strip('"'), parent.split(".")[-1].strip('"')
        if child in parents and parent != child:
            parents[child].add(parent)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [t for t in names if t not in ordered and parents[t] <= set(ordered)]
        if not ready:
            raise DumpError(f"schema {schema}: foreign keys form a cycle among {sorted(set(names) - set(ordered))}")
        ordered += ready
    return ordered


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    return [c for (c,) in conn.execute(_COLUMNS, (schema, table))]


def _migrations(conn: psycopg.Connection, schema: str) -> list[str]:
    if conn.execute("SELECT to_regclass(%s)", (f'"{schema}"._yoyo_migration',)).fetchone()[0] is None:
        return []
    return [r[0] for r in conn.execute(sql.SQL("SELECT migration_id FROM {}._yoyo_migration ORDER BY migration_id")
                                        .format(sql.Identifier(schema)))]


def dump_schema(url: str, out_dir: Path, inside: Callable[[], object] | None = None) -> dict:
    """Copy the schema of ``url`` into ``out_dir`` (one ``<table>.copy`` per table); returns
    the description :func:`restore_schema` needs (tables in load order with their columns
    and row counts, sequences, migrations). ``inside`` runs once the snapshot is taken, in
    it (the caller reads the event log's position there); its result is ``"inside"``."""
    conninfo, schema = split_schema(url)
    out_dir.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            conn.execute("SELECT 1")  # the snapshot is taken at the first statement
            marker = inside() if inside is not None else None
            tables = []
            for table in _tables(conn, schema):
                columns = _columns(conn, schema, table)
                rows = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]
                with open(out_dir / f"{table}.copy", "wb") as fh, conn.cursor().copy(sql.SQL(
                        "COPY {}.{} ({}) TO STDOUT (FORMAT BINARY)").format(
                        sql.Identifier(schema), sql.Identifier(table),
                        sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
                    fh.writelines(copy)
                tables.append({"name": table, "columns": columns, "rows": rows})
            sequences = {}
            for (name,) in conn.execute(_SEQUENCES, (schema,)).fetchall():
                last, called = conn.execute(sql.SQL("SELECT last_value, is_called FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(name))).fetchone()
                sequences[name] = [last, called]
            migrations = _migrations(conn, schema)
    return {"schema": schema, "tables": tables, "sequences": sequences, "migrations": migrations, "inside": marker}


def holds_data(conn: psycopg.Connection, schema: str) -> list[str]:
    """The schema's tables that hold rows (``counters`` always does: its rows are the migration's)."""
    return [t for t in _tables(conn, schema) if t != "counters" and conn.execute(sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM {}.{})").format(sql.Identifier(schema), sql.Identifier(t))).fetchone()[0]]


def restore_schema(url: str, in_dir: Path, description: dict, *, force: bool = False) -> None:
    """Load a :func:`dump_schema` copy into the schema of ``url`` (created and migrated
    first). Refuses a schema that holds data unless ``force`` (then emptied in the same
    transaction as the load) and one whose migrations are not the backup's."""
    conninfo, schema = split_schema(url)
    migrate(conninfo, schema)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        applied = _migrations(conn, schema)
        missing = [m for m in description["migrations"] if m not in applied]
        if missing:
            raise DumpError(f"the backup's schema has migrations this version does not know: {missing}; "
                            "restore with the tastemaker version that made it")
        ours = _tables(conn, schema)
        unknown = [t["name"] for t in description["tables"] if t["name"] not in ours]
        if unknown:
            raise DumpError(f"the backup has tables schema {schema} lacks: {unknown}")
        busy = holds_data(conn, schema)
        if busy and not force:
            raise DumpError(f"schema {schema} holds data (tables {', '.join(busy)}); restore onto an empty "
                            "schema, or pass --force to replace it")
        with conn.transaction():
            # only tables with rows: the migration's counters, and what --force replaces. The
            # audit log's append-only triggers refuse a TRUNCATE; --force is the operator
            # replacing the whole deployment, so they are off for this transaction only.
            doomed = [sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(t)) for t in ["counters", *busy]]
            for table in doomed:
                conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(table))
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(doomed)))
            for table in doomed:
                conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(table))
            for table in description["tables"]:
                with open(in_dir / f"{table['name']}.copy", "rb") as fh, conn.cursor().copy(sql.SQL(
                        "COPY {}.{} ({}) FROM STDIN (FORMAT BINARY)").format(
                        sql.Identifier(schema), sql.Identifier(table["name"]),
                        sql.SQL(", ").join(map(sql.Identifier, table["columns"])))) as copy:
                    while chunk := fh.read(CHUNK):
                        copy.write(chunk)
            for name, (last, called) in description["sequences"].items():
                if last is not None:
                    conn.execute("SELECT setval(%s, %s, %s)", (f'"{schema}"."{name}"', last, called))
