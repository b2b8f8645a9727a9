"""PII traits of user profiles encrypted at rest (AES-256-GCM), decrypted on read.

The traits named in ``TASTEMAKER_PII_TRAITS`` (``email,phone,name``) are replaced, in the
stored document only, by ``"enc:v1:<key id>:<base64url(nonce | ciphertext | tag)>"``: the
JSON of the value, sealed with a fresh 96-bit nonce and the user id and trait name as
associated data (a ciphertext copied onto another user or trait does not decrypt). Every
read through :class:`EncryptedUserStore` gives the plaintext back, so the API, export,
consent and erasure see ordinary documents.

Keys: ``TASTEMAKER_PII_KEY`` (64 hex digits, the current key) and ``TASTEMAKER_PII_OLD_KEYS``
(comma-separated, still readable), or else the file ``pii.keys`` in the data dir (mode 0600,
one hex key a line, the last one current; made on first use). The key id is the first 8 hex
digits of the key's SHA-256, so each ciphertext names the key that opens it and a keyring
may hold several. Rotation: a new current key, then :func:`reencrypt` rewrites every profile
under it (``tastemaker privacy rotate-pii-key`` does both for the key file, with the server
stopped); old keys can then be dropped, which makes backups sealed under them unreadable.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tastemaker.schema.records import User

KEY_ENV, OLD_KEYS_ENV, KEY_FILE = "TASTEMAKER_PII_KEY", "TASTEMAKER_PII_OLD_KEYS", "pii.keys"
PREFIX = "enc:v1:"
_encode, _decode = msgspec.json.Encoder().encode, msgspec.json.Decoder().decode


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _hex_key(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ValueError(f"{where} must be 64 hex digits (an AES-256 key)") from None
    if len(key) != 32:
        raise ValueError(f"{where} must be 64 hex digits (an AES-256 key), not {len(key) * 2}")
    return key


def load_keys(data_dir: Path) -> list[bytes]:
    """The keyring, current key last: from the environment, else the data dir's key file (made if absent)."""
    return load_key_chain(data_dir, KEY_ENV, OLD_KEYS_ENV, KEY_FILE)


def load_key_chain(data_dir: Path, key_env: str, old_keys_env: str, key_file: str) -> list[bytes]:
    """A chain of 256-bit keys, oldest first: ``key_env`` (hex) after ``old_keys_env`` (hex,
    comma-separated) when set, else the lines of ``data_dir/key_file`` (made with one random
    key if absent). A malformed key raises ValueError naming where it came from."""
    current = os.environ.get(key_env, "").strip()
    if current:
        old = [_hex_key(k, old_keys_env) for k in os.environ.get(old_keys_env, "").split(",") if k.strip()]
        return [*old, _hex_key(current, key_env)]
    path = Path(data_dir) / key_file
    if not path.exists():
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        add_key(path)
    return [_hex_key(line, str(path)) for line in path.read_text().split() if line]


def add_key(path: Path, keep_old: bool = True) -> bytes:
    """Make a new random key the current one in the key file (0600); returns it."""
    key = os.urandom(32)
    old = path.read_text().split() if keep_old and path.exists() else []
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join([*old, key.hex()]) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return key


def drop_old_keys(path: Path) -> int:
    """Keep only the current (last) key in the key file; returns how many were dropped."""
    keys = path.read_text().split()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys[-1] + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return len(keys) - 1


class PiiCipher:
    """Seals and opens trait values with a keyring (the last key seals)."""

    def __init__(self, keys: Sequence[bytes]):
        if not keys:
            raise ValueError("a PII keyring needs at least one key")
        self._by_id = {key_id(k): AESGCM(k) for k in keys}
        self.current = key_id(keys[-1])

    def seal(self, value: Any, user_id: str, trait: str) -> str:
        nonce = os.urandom(12)
        sealed = self._by_id[self.current].encrypt(nonce, _encode(value), f"{user_id}\x00{trait}".encode())
        return f"{PREFIX}{self.current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, text: str, user_id: str, trait: str) -> Any:
        kid, _, body = text[len(PREFIX):].partition(":")
        aead = self._by_id.get(kid)
        if aead is None:
            raise KeyError(f"trait {trait!r} of a user is sealed under PII key {kid}, which the keyring lacks")
        raw = base64.urlsafe_b64decode(body)
        return _decode(aead.decrypt(raw[:12], raw[12:], f"{user_id}\x00{trait}".encode()))

    def key_of(self, value: Any) -> str | None:
        """The key id a stored value is sealed under (None: plaintext)."""
        return value[len(PREFIX):].split(":", 1)[0] if isinstance(value, str) and value.startswith(PREFIX) else None


class EncryptedUserStore:
    """A :class:`~tastemaker.storage.protocols.UserStore` that seals ``traits`` before the inner
    store sees a document and opens them on every read; everything else passes through."""

    def __init__(self, inner: Any, cipher: PiiCipher, traits: Sequence[str]):
        self.inner, self.cipher, self.traits = inner, cipher, frozenset(traits)

    def _seal(self, user: User) -> User:
        if not self.traits & user.traits.keys():
            return user
        traits = {k: self.cipher.seal(v, user.id, k) if k in self.traits else v for k, v in user.traits.items()}
        return User(id=user.id, traits=traits, consent=user.consent)

    def _open(self, user: User | None) -> User | None:
        if user is None or not self.traits & user.traits.keys():
            return user
        key_of = self.cipher.key_of
        traits = {k: self.cipher.open(v, user.id, k) if k in self.traits and key_of(v) else v
                  for k, v in user.traits.items()}
        return User(id=user.id, traits=traits, consent=user.consent)

    def upsert(self, users: Sequence[User]) -> int:
        return self.inner.upsert([self._seal(u) for u in users])

    def get(self, user_id: str) -> User | None:
        return self._open(self.inner.get(user_id))

    def changes_since(self, version: int) -> tuple[int, list[tuple[str, User | None]]]:
        latest, changes = self.inner.changes_since(version)
        return latest, [(uid, self._open(u)) for uid, u in changes]

    def iter_all(self) -> Iterator[User]:
        return (self._open(u) for u in self.inner.iter_all())

    def stored(self, user_id: str) -> User | None:
        """The document as stored (sealed traits); for checks and re-encryption."""
        return self.inner.get(user_id)

    def __getattr__(self, name: str) -> Any:  # delete, count, erase_user, change_token
        return getattr(self.inner, name)


def reencrypt(store: EncryptedUserStore, batch: int = 1000) -> dict[str, int]:
    """Rewrite every profile whose PII traits are plaintext or sealed under an older key with
    the current key; returns ``{"profiles": rewritten, "traits": sealed}``."""
    cipher, pending, profiles, traits = store.cipher, [], 0, 0
    _, rows = store.inner.changes_since(0)  # a list, read before anything is rewritten
    for _, user in rows:
        if user is None:
            continue
        stale = [k for k, v in user.traits.items() if k in store.traits and cipher.key_of(v) != cipher.current]
        if stale:
            pending.append(store._open(user))
            profiles, traits = profiles + 1, traits + len(stale)
        if len(pending) >= batch:
            store.upsert(pending)
            pending = []
    if pending:
        store.upsert(pending)
    return {"profiles": profiles, "traits": traits}
