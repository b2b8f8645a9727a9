"""Tombstones of erased users: a keyed HMAC of the id, never the id itself.

After an erasure the data dir must not name the person, yet later ingest, imports and
replays must not bring them back. The tombstone is ``HMAC-SHA256(key, user_id)``: whoever
holds an id and the deployment's key can test it (that is what refusing new events needs),
but the digest alone, or the id with an unkeyed hash (what :mod:`privacy.scan` looks for),
does not match it. The key comes from ``TASTEMAKER_ERASURE_KEY`` (hex) or, by default, the
file ``erasure.key`` in the data dir (32 random bytes, created on first use, mode 0600).
Rotating the key orphans existing tombstones, so keep it: it is the only thing that makes a
tombstone meaningful, and it is kept under GDPR Art. 17(3) as what makes the erasure stick.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Iterable

from tastemaker.storage.protocols import ErasedUsers

KEY_ENV = "TASTEMAKER_ERASURE_KEY"
KEY_FILE = "erasure.key"


def load_key(data_dir: Path) -> bytes:
    """The erasure key: from the environment, else the data dir's key file (made if absent)."""
    text = os.environ.get(KEY_ENV, "").strip()
    if text:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{KEY_ENV} must be hex (e.g. 64 hex digits), not {len(text)} other characters") from None
        if len(key) < 16:
            raise ValueError(f"{KEY_ENV} must hold at least 16 bytes (32 hex digits)")
        return key
    path = Path(data_dir) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(os.urandom(32))
        fh.flush()
        os.fsync(fh.fileno())
    return path.read_bytes()


class Tombstones:
    """Keyed digests of erased ids, and the check ingest runs against them.

    >>> import tempfile
    >>> from tastemaker.storage.sqlite.database import Database
    >>> from tastemaker.storage.sqlite.erasure import SQLiteErasedUsers
    >>> t = Tombstones(SQLiteErasedUsers(Database(Path(tempfile.mkdtemp()) / "t.db")), b"k" * 32)
    >>> t.add("u1"); t.erased(["u1", "u2", "u1"])
    True
    ['u1']
    """

    def __init__(self, store: ErasedUsers, key: bytes):
        self.store = store
        self._key = key
        self._known: set[str] = set()
        self._count = -1

    def digest(self, user_id: str) -> str:
        return hmac.digest(self._key, user_id.encode(), "sha256").hex()  # hmac.digest: the one-call C path

    def add(self, user_id: str) -> bool:
        """Record the user as erased (idempotent); True when they were not before."""
        added = self.store.add(self.digest(user_id))
        self._count = -1
        return added

    def _refresh(self) -> set[str]:
        count = self.store.count()  # another process may have erased someone
        if count != self._count:
            self._known, self._count = self.store.all(), count
        return self._known

    def erased(self, user_ids: Iterable[str]) -> list[str]:
        """The erased ones among ``user_ids`` (each once, first-seen order); cheap while there are none."""
        known = self._refresh()
        if not known:
            return []
        out, seen = [], set()
        for uid in user_ids:
            if uid not in seen:
                seen.add(uid)
                if self.digest(uid) in known:
                    out.append(uid)
        return out
