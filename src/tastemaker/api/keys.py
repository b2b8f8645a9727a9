"""API keys: ``tm_<key id>_<secret>``; only a SHA-256 of the secret is stored.

The secret has 192 bits of entropy, so a fast hash is safe (slow hashes protect guessable
passwords, not random tokens) and keeps verification off the latency budget.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from tastemaker.storage.protocols import ApiKeyRecord, KeyStore

SCOPES = frozenset({"ingest", "read", "admin"})
_CACHE_TTL = 5.0  # seconds a cached key is trusted when no change token moved (see KeyVerifier)


def has_scope(record: ApiKeyRecord, needed: str) -> bool:
    """Whether the key may do what ``needed`` allows (``admin`` may do everything)."""
    return needed in record.scopes or "admin" in record.scopes


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(token: str) -> str:
    """The id under which a token's hash is stored."""
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0] == "tm" and parts[1]:
        return parts[1]
    return "env-" + _hash(token)[:12]  # a key given whole in the environment


def create_key(store: KeyStore, name: str, scopes: set[str] | frozenset[str]) -> tuple[ApiKeyRecord, str]:
    """Create a key; returns the record and the token (shown once, never stored).

    >>> from tastemaker.storage.sqlite import Database
    >>> from tastemaker.storage.sqlite.keys import SQLiteKeyStore
    >>> import tempfile, pathlib
    >>> store = SQLiteKeyStore(Database(pathlib.Path(tempfile.mkdtemp()) / "k.db"))
    >>> record, token = create_key(store, "ci", {"read"})
    >>> token.startswith("tm_" + record.key_id + "_")
    True
    """
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {sorted(SCOPES)}, got {sorted(scopes)}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    token = f"tm_{key_id}_{secret}"
    return store.create(name, frozenset(scopes), _hash(token), key_id), token


def ensure_env_admin_key(store: KeyStore, token: str) -> ApiKeyRecord:
    """Register ``TASTEMAKER_ADMIN_KEY`` as an admin key (idempotent)."""
    key_id = key_id_of(token)
    found = store.find(key_id)
    if found is not None:
        return found[0]
    try:
        return store.create("TASTEMAKER_ADMIN_KEY", frozenset({"admin"}), _hash(token), key_id)
    except Exception:  # another worker starting at the same moment registered it first
        found = store.find(key_id)
        if found is None:
            raise
        return found[0]


class KeyVerifier:
    """Verifies bearer tokens against the store, with a positive cache.

    The cache is invalidated whenever the store's change token moves, so a key revoked through
    any process sharing the data dir is refused on the very next request here (the token is
    a shared memory read: ~0.1 us per request). The TTL is only a backstop for edits made
    behind the store's back (a hand-run SQL UPDATE), which move no token.
    """

    def __init__(self, store: KeyStore):
        self.store = store
        self._cache: dict[str, tuple[float, ApiKeyRecord]] = {}
        self._seen = store.change_token()

    def verify(self, token: str) -> ApiKeyRecord | None:
        changed = self.store.change_token()
        if changed != self._seen:  # read before the lookup: a write after this moves it again
            self.forget()
            self._seen = changed
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached is not None and now - cached[0] < _CACHE_TTL:
            return cached[1]
        found = self.store.find(key_id_of(token))
        if found is None:
            return None
        record, stored_hash = found
        if record.revoked or not hmac.compare_digest(stored_hash, _hash(token)):
            self._cache.pop(token, None)
            return None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now, record)
        return record

    def seen(self, token: str) -> bool:
        """Whether :meth:`verify` accepted ``token`` before (it may have been revoked since:
        verify checks again). No hash and no store read: the rate limiter asks this first, so
        a flood of wrong keys costs a dict lookup each."""
        return token in self._cache

    def forget(self) -> None:
        """Check every cached key again on its next use; each stays known (``seen``) until it fails."""
        self._cache = {t: (float("-inf"), record) for t, (_, record) in self._cache.items()}
