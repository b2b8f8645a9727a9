"""A lease as a PostgreSQL session advisory lock: the distributed deployment's lease when no
Redis is configured (``TASTEMAKER_REDIS_URL`` empty).

The handle keeps one connection of its own; ``pg_try_advisory_lock`` takes the lock for that
session, and the server drops it when the session ends, so a holder that dies (its
connection closes) frees it without a ttl. The connection's ``application_name`` carries the
owner's name, which is how :meth:`holder` names who holds it (``pg_locks`` joined to
``pg_stat_activity``). Keys are two int4: a fixed namespace and a hash of schema and name.
"""

from __future__ import annotations

import threading

import psycopg

from tastemaker.storage.postgres.database import split_schema

_NAMESPACE = "SELECT hashtext('tastemaker.lease'), hashtext(%s)"
_HOLDER = ("SELECT a.application_name, l.pid = pg_backend_pid() FROM pg_locks l JOIN pg_stat_activity a "
           "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
           "AND l.classid = (%s::bigint & 4294967295)::oid AND l.objid = (%s::bigint & 4294967295)::oid")


class PostgresLease:
    """One handle on the lease ``name`` in ``url``'s database (the schema is part of the key).

    >>> url = "postgresql://postgres@127.0.0.1:5432/test?schema=doctest_lease"
    >>> a, b = PostgresLease(url, "train", owner="node-a"), PostgresLease(url, "train", owner="node-b")
    >>> a.acquire(), b.acquire(), b.holder(), a.renew(), b.release(), a.release(), b.acquire()
    (True, False, 'node-a', True, False, True, True)
    >>> b.release(), a.close(), b.close()
    (True, None, None)
    """

    def __init__(self, url: str, name: str, owner: str = ""):
        conninfo, schema = split_schema(url)
        self.owner = owner or "tastemaker"
        # application_name is at most 63 bytes; the owner's name is what others are told
        self._conn = psycopg.connect(conninfo, autocommit=True, application_name=self.owner[:63])
        self._keys = self._conn.execute(_NAMESPACE, (f"{schema}.{name}",)).fetchone()
        self._held = False
        self._lock = threading.Lock()  # one connection: one statement at a time

    def acquire(self) -> bool:
        """Take the lock for this session if free (True also when already ours)."""
        with self._lock:
            if self._held:
                return self._still_held()
            self._held = bool(self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self._keys).fetchone()[0])
            return self._held

    def renew(self) -> bool:
        """Whether this session still holds it (False once its connection was lost)."""
        with self._lock:
            return self._held and self._still_held()

    def _still_held(self) -> bool:
        try:
            rows = self._conn.execute(_HOLDER, self._keys).fetchall()
        except psycopg.OperationalError:  # the session ended: the server dropped the lock
            self._held = False
            return False
        self._held = any(mine for _, mine in rows)
        return self._held

    def release(self) -> bool:
        """Give it back; False when this session did not hold it."""
        with self._lock:
            if not self._held:
                return False
            self._held = False
            try:
                return bool(self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", self._keys).fetchone()[0])
            except psycopg.OperationalError:
                return False

    def holder(self) -> str | None:
        """The owner name of the session that holds it (None: free)."""
        with self._lock:
            rows = self._conn.execute(_HOLDER, self._keys).fetchall()
        return rows[0][0] or "unknown" if rows else None

    def close(self) -> None:
        """Close the session (which frees the lock if held)."""
        self._held = False
        self._conn.close()
