"""API keys (``tm_<key id>_<secret>``) and OAuth clients; only a SHA-256 of a secret is stored.

The secret has 192 bits of entropy, so a fast hash is safe (slow hashes protect guessable
passwords, not random tokens) and keeps verification off the latency budget. A client's
secret is never a bearer credential: clients trade it for an access token at
``POST /oauth/token`` (api.oauth), and :class:`KeyVerifier` accepts those tokens too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable

from tastemaker.api.auth import ROLES
from tastemaker.api.tokens import Tokens, looks_like_jwt
from tastemaker.storage.protocols import ApiKeyRecord, KeyStore

SCOPES = frozenset(ROLES)  # a key's scopes are role names (api.auth.ROLES)
BROWSER = "browser"
MAX_PLACEMENTS = 64
_CACHE_TTL = 5.0  # seconds a cached key is trusted when no change token moved (see KeyVerifier)


def check_grant(roles: set[str] | frozenset[str], user_id: str | None, placements: list[str] | None) -> list[tuple[str, str]]:
    """What is wrong with a key or client request, as (field, reason) pairs (empty: fine).

    >>> check_grant({"browser"}, None, None)
    [('/user_id', "the 'browser' role needs the user_id the key is bound to")]
    >>> check_grant({"read", "browser"}, "u1", None)
    [('/scopes', "a key bound to a user has the 'browser' role only")]
    """
    errors = []
    unknown = sorted(set(roles) - SCOPES)
    if unknown or not roles:
        errors.append(("/scopes", f"unknown role(s) {unknown}; use {sorted(SCOPES)}" if unknown else "at least one role"))
    if BROWSER in roles and user_id is None:
        errors.append(("/user_id", "the 'browser' role needs the user_id the key is bound to"))
    if user_id is not None and set(roles) != {BROWSER}:
        errors.append(("/scopes", "a key bound to a user has the 'browser' role only"))
    if placements is not None and (len(placements) > MAX_PLACEMENTS or not all(isinstance(p, str) and 0 < len(p) <= 64 for p in placements)):
        errors.append(("/placements", f"at most {MAX_PLACEMENTS} placement names of 1-64 characters"))
    return errors


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(token: str) -> str:
    """The id under which a token's hash is stored."""
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0] == "tm" and parts[1]:
        return parts[1]
    return "env-" + _hash(token)[:12]  # a key given whole in the environment


def create_key(store: KeyStore, name: str, scopes: set[str] | frozenset[str], *, user_id: str | None = None,
               placements: list[str] | None = None, kind: str = "key") -> tuple[ApiKeyRecord, str]:
    """Create a key (or with ``kind="client"`` an OAuth client, whose id is ``key_id`` and
    whose secret is the token); returns the record and the token (shown once, never stored).

    >>> from tastemaker.storage.sqlite import Database
    >>> from tastemaker.storage.sqlite.keys import SQLiteKeyStore
    >>> import tempfile, pathlib
    >>> store = SQLiteKeyStore(Database(pathlib.Path(tempfile.mkdtemp()) / "k.db"))
    >>> record, token = create_key(store, "ci", {"read"})
    >>> token.startswith("tm_" + record.key_id + "_")
    True
    """
    errors = check_grant(scopes, user_id, placements)
    if errors:
        raise ValueError("; ".join(f"{field}: {reason}" for field, reason in errors))
    key_id = ("c" if kind == "client" else "") + secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    token = f"tm_{key_id}_{secret}"
    bound = None if placements is None else frozenset(placements)
    return store.create(name, frozenset(scopes), _hash(token), key_id, kind=kind, user_id=user_id, placements=bound), token


def check_client_secret(store: KeyStore, client_id: str, secret: str) -> ApiKeyRecord | None:
    """The active OAuth client ``client_id`` when ``secret`` is its secret, else None."""
    found = store.find(client_id)
    if found is None or found[0].kind != "client" or found[0].revoked:
        return None
    return found[0] if hmac.compare_digest(found[1], _hash(secret)) else None


def ensure_env_admin_key(store: KeyStore, token: str, created: Callable[[ApiKeyRecord], None] | None = None) -> ApiKeyRecord:
    """Register ``TASTEMAKER_ADMIN_KEY`` as an admin key (idempotent); ``created`` is told when
    this call registered it (the audit record)."""
    key_id = key_id_of(token)
    found = store.find(key_id)
    if found is not None:
        return found[0]
    try:
        record = store.create("TASTEMAKER_ADMIN_KEY", frozenset({"admin"}), _hash(token), key_id)
        if created is not None:
            created(record)
        return record
    except Exception:  # another worker starting at the same moment registered it first
        found = store.find(key_id)
        if found is None:
            raise
        return found[0]


class KeyVerifier:
    """Verifies bearer tokens (API keys, and OAuth access tokens when given ``tokens``)
    against the store, with a positive cache.

    The cache is invalidated whenever the store's change token moves, so a key revoked through
    any process sharing the data dir is refused on the very next request here (the token is
    a shared memory read: ~0.1 us per request). The TTL is only a backstop for edits made
    behind the store's back (a hand-run SQL UPDATE), which move no token.
    """

    def __init__(self, store: KeyStore, tokens: Tokens | None = None):
        self.store = store
        self.tokens = tokens
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
            # an access token's own cache checks its expiry (a dict lookup and a clock read)
            if cached[1].kind != "client" or (self.tokens is not None and self.tokens.verify(token) is not None):
                return cached[1]
        if self.tokens is not None and looks_like_jwt(token):
            record = self._access_token(token)
            if record is None:
                self._cache.pop(token, None)
                return None
        else:
            found = self.store.find(key_id_of(token))
            if found is None:
                return None
            record, stored_hash = found
            if record.revoked or record.kind != "key" or not hmac.compare_digest(stored_hash, _hash(token)):
                self._cache.pop(token, None)  # a client's secret is not a bearer credential
                return None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now, record)
        return record

    def _access_token(self, token: str) -> ApiKeyRecord | None:
        """The principal of a valid access token: its client, with the roles the token grants
        that the client still holds (a client narrowed or revoked since takes effect now)."""
        assert self.tokens is not None
        claims = self.tokens.verify(token)
        if claims is None:
            return None
        found = self.store.find(claims["sub"])
        if found is None or found[0].kind != "client" or found[0].revoked:
            return None
        client = found[0]
        placements = claims.get("placements")
        return ApiKeyRecord(client.key_id, client.name, frozenset(claims["scope"].split()) & client.scopes, client.created_at,
                            kind="client", placements=client.placements if placements is None else frozenset(placements))

    def reason(self, token: str) -> str:
        """Why :meth:`verify` refused ``token`` (the 401's detail)."""
        if self.tokens is not None and looks_like_jwt(token):
            return self.tokens.reason(token)
        return "the API key is not valid (unknown or revoked)"

    def seen(self, token: str) -> bool:
        """Whether :meth:`verify` accepted ``token`` before (it may have been revoked since:
        verify checks again). No hash and no store read: the rate limiter asks this first, so
        a flood of wrong keys costs a dict lookup each."""
        return token in self._cache

    def forget(self) -> None:
        """Check every cached key again on its next use; each stays known (``seen``) until it fails."""
        self._cache = {t: (float("-inf"), record) for t, (_, record) in self._cache.items()}
