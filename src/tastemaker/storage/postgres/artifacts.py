"""Artifacts in PostgreSQL: model pickles, rankers, the placement file and online-state
snapshots, so a fresh worker on another machine starts from them.

A value is stored as chunks of ``CHUNK`` bytes (``artifact_chunks``) under one metadata row
(``artifacts``: size and a stamp from a sequence). A write replaces every chunk and the stamp
in one transaction, so a reader (one statement, one snapshot) sees the old bytes or the new.
"""

from __future__ import annotations

import tempfile
from typing import BinaryIO, Callable

from tastemaker.storage.postgres.database import PostgresDatabase

CHUNK = 4 << 20  # 4 MiB: big enough that a snapshot is few rows, small enough to never strain a bytea
_SPOOL = 16 << 20  # what a stream write or a read keeps in memory before spilling to a temp file


def check_key(key: str) -> str:
    """The local store's key rules, so a key that works on one deployment works on the other.

    >>> check_key("models/a.pkl")
    'models/a.pkl'
    """
    parts = key.split("/")
    if not key or "\\" in key or any(p in ("", "..", ".") for p in parts):
        raise ValueError(f"invalid artifact key {key!r}: a relative '/'-separated name without '..'")
    return key


class PostgresArtifactStore:
    """:class:`~tastemaker.storage.protocols.ArtifactStore` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase, owns_db: bool = False):
        self.db = db
        self._owns_db = owns_db

    def put(self, key: str, data: bytes) -> None:
        self._store(check_key(key), [memoryview(data)[i:i + CHUNK] for i in range(0, len(data), CHUNK)], len(data))

    def put_stream(self, key: str, write: Callable[[BinaryIO], None]) -> None:
        check_key(key)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as fh:
            write(fh)  # raises before anything is stored: the old value stays
            size = fh.tell()
            fh.seek(0)
            self._store(key, iter(lambda: fh.read(CHUNK), b""), size)

    def _store(self, key: str, chunks, size: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO artifacts (key, size, stamp) VALUES (%s, %s, nextval('artifact_stamps')) "
                         "ON CONFLICT (key) DO UPDATE SET size = excluded.size, stamp = excluded.stamp", (key, size))
            conn.execute("DELETE FROM artifact_chunks WHERE key = %s", (key,))
            with conn.cursor() as cur:
                for n, chunk in enumerate(chunks):  # one chunk in memory at a time
                    cur.execute("INSERT INTO artifact_chunks (key, n, data) VALUES (%s, %s, %s)", (key, n, bytes(chunk)))

    def get(self, key: str) -> bytes | None:
        rows = self.db.read_all("SELECT c.data FROM artifacts a LEFT JOIN artifact_chunks c ON c.key = a.key "
                                "WHERE a.key = %s ORDER BY c.n", (check_key(key),))
        if not rows:
            return None
        return b"".join(bytes(r[0]) for r in rows if r[0] is not None)

    def open(self, key: str) -> BinaryIO | None:
        check_key(key)
        out = tempfile.SpooledTemporaryFile(max_size=_SPOOL)
        with self.db.connection() as conn, conn.transaction():  # one snapshot across the chunk reads
            if conn.execute("SELECT 1 FROM artifacts WHERE key = %s", (key,)).fetchone() is None:
                out.close()
                return None
            with conn.cursor(name="artifact_chunks") as cur:  # server-side: one chunk at a time
                cur.itersize = 1
                cur.execute("SELECT data FROM artifact_chunks WHERE key = %s ORDER BY n", (key,))
                for (data,) in cur:
                    out.write(data)
        out.seek(0)
        return out  # type: ignore[return-value]

    def delete(self, key: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM artifacts WHERE key = %s", (check_key(key),)).rowcount > 0

    def list(self, prefix: str = "") -> list[str]:
        rows = self.db.read_all("SELECT key FROM artifacts WHERE left(key, %s) = %s ORDER BY key COLLATE \"C\"",
                                (len(prefix), prefix))
        return [r[0] for r in rows]

    def stamp(self, key: str) -> str | None:
        row = self.db.read_one("SELECT stamp FROM artifacts WHERE key = %s", (check_key(key),))
        return None if row is None else str(row[0])

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

