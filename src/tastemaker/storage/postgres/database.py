"""A PostgreSQL database shared by the stores of one deployment: a psycopg 3 connection pool,
the schema migrated by yoyo on open, and per-store change counters.

Connections are in autocommit mode, so a read is one round trip; writes run in an explicit
transaction (:meth:`PostgresDatabase.transaction`). Writers that must be ordered (document
versions, model numbers, the audit chain) take the row lock of their counter in ``counters``
first: versions are then given out in commit order, and a follower reading
``version > v`` never skips a write that commits late.
"""

from __future__ import annotations

import errno
import threading
from contextlib import contextmanager
from importlib import resources
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from tastemaker.storage.postgres.notify import TokenCache, channel
from tastemaker.storage.protocols import StorageFull

COUNTERS = ("items", "users", "keys", "experiments", "models", "audit")


def split_schema(url: str) -> tuple[str, str]:
    """``(libpq url, schema)``: the ``schema`` query parameter (yoyo's convention) is ours, not
    libpq's, so it is taken out; ``public`` when absent.

    >>> split_schema("postgresql://postgres@127.0.0.1:5432/test?schema=t1&sslmode=disable")
    ('postgresql://postgres@127.0.0.1:5432/test?sslmode=disable', 't1')
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), "public")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def migrate(url: str, schema: str) -> None:
    """Create ``schema`` if missing and apply the pending migrations. Workers starting at once
    take turns on an advisory lock named after the schema: ``CREATE SCHEMA IF NOT EXISTS`` and
    yoyo's own bookkeeping tables are not safe against a concurrent first run."""
    from yoyo import get_backend, read_migrations

    parts = urlsplit(url)
    query = urlencode(parse_qsl(parts.query) + [("schema", schema)])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('tastemaker.migrate.' || %s))", (schema,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        backend = get_backend(urlunsplit(parts._replace(scheme="postgresql+psycopg", query=query)))
        try:
            with resources.as_file(resources.files(__package__) / "migrations") as folder:
                migrations = read_migrations(str(folder))
                with backend.lock():
                    backend.apply_migrations(backend.to_apply(migrations))
        finally:
            backend.connection.close()
        # the lock ends with this connection's session


class PostgresDatabase:
    """One pool on one schema, shared by the stores of one :class:`~tastemaker.storage.factory.Stores`.

    >>> db = PostgresDatabase("postgresql://postgres@127.0.0.1:5432/test?schema=doctest_db")  # doctest: +SKIP
    >>> db.read_one("SELECT 1")  # doctest: +SKIP
    (1,)
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8):
        self.url, self.schema = split_schema(url)
        migrate(self.url, self.schema)
        self.pool = ConnectionPool(
            self.url, min_size=min_size, max_size=max_size, open=True, name=f"tastemaker-{self.schema}",
            # prepare_threshold None: with psycopg's server-side prepared statements, a served
            # engine (reads, catalog follower, impression flushes on their own threads) failed
            # about one run in two of 2,000 reads with "the last operation didn't produce records
            # (command status: COMMIT)" on a read; none in 5 runs without (cause not found yet)
            kwargs={"autocommit": True, "prepare_threshold": None, "options": f"-c search_path={self.schema}"},
        )
        self.pool.wait(timeout=30)
        # change tokens cached until LISTEN/NOTIFY says they moved (storage.postgres.notify)
        self.tokens = TokenCache(self.url, self.schema, self._read_token)
        self._bumped = threading.local()  # counters this thread's open transaction advanced

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            yield conn

    def read_one(self, query: str, params: tuple = ()) -> tuple | None:
        return self._read(lambda conn: conn.execute(query, params).fetchone())

    def read_all(self, query: str, params: tuple = ()) -> list[tuple]:
        return self._read(lambda conn: conn.execute(query, params).fetchall())

    def _read(self, run):
        """Run a read; once more after a lost connection (the server restarted or closed it):
        ``pool.check()`` replaces every broken idle connection first. Reads are safe to repeat;
        writes are not retried (a lost COMMIT reply is ambiguous)."""
        try:
            with self.pool.connection() as conn:
                return run(conn)
        except psycopg.OperationalError:
            self.pool.check()
            with self.pool.connection() as conn:
                return run(conn)

    @contextmanager
    def transaction(self, *lock: str) -> Iterator[psycopg.Connection]:
        """A write transaction: all or nothing. ``lock`` names counters whose row lock is
        taken first (in a fixed order, so two writers never deadlock on them). A write that
        fails for lack of space raises :class:`StorageFull` with nothing written."""
        with self.pool.connection() as conn:
            try:
                self._bumped.names = []
                with conn.transaction():
                    for name in sorted(lock):
                        conn.execute("SELECT value FROM counters WHERE name = %s FOR UPDATE", (name,))
                    yield conn
                for name in self._bumped.names:  # committed: this process reads the new token at once
                    self.tokens.invalidate(name)
            except (psycopg.errors.DiskFull, psycopg.errors.OutOfMemory) as exc:
                raise StorageFull(errno.ENOSPC, f"{exc} (PostgreSQL schema {self.schema})") from exc

    def bump(self, conn: psycopg.Connection, name: str) -> int:
        """Advance counter ``name`` inside ``conn``'s transaction (and notify the schema's
        listeners, at commit); returns its new value."""
        conn.execute("SELECT pg_notify(%s, %s)", (channel(self.schema), name))
        names = getattr(self._bumped, "names", None)
        if names is not None:
            names.append(name)
        return conn.execute("UPDATE counters SET value = value + 1 WHERE name = %s RETURNING value", (name,)).fetchone()[0]

    def token(self, name: str) -> bytes:
        """Counter ``name`` as 8 bytes: a change token this process sees move at its commit, and
        other processes once the commit's notification reached them (about a round trip).
        Cached until then: one query per change, not per call (storage.postgres.notify)."""
        return self.tokens.token(name)

    def _read_token(self, name: str) -> bytes:
        return self.read_one("SELECT value FROM counters WHERE name = %s", (name,))[0].to_bytes(8, "big")

    def close(self) -> None:
        self.tokens.close()
        self.pool.close()
