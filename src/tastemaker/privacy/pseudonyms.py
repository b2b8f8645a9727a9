"""Pseudonymous user ids: every user id entering through the API is replaced, at the edge,
by a keyed HMAC of it, so no file of the data dir holds the id the caller knows.

With ``TASTEMAKER_PSEUDONYMIZE=1`` the API maps each user id it is given (events, user
documents, recommendations, export, erase, browser-key bindings, consent) to
``p1:<key id>:<32 hex digits>`` (HMAC-SHA256, truncated to 128 bits) before anything below it
sees the request. The mapping is deterministic, so a caller keeps sending its own ids and
always reaches the same stored user; responses name the pseudonym (what is stored). An LRU
cache in front of the HMAC keeps the hot path at a dictionary look-up for active users.

Keys: ``TASTEMAKER_PSEUDONYM_KEY`` (hex, the current key) with ``TASTEMAKER_PSEUDONYM_OLD_KEYS``
(comma-separated, oldest first), or else ``pseudonym.keys`` in the data dir (0600, one hex
key a line, oldest first, the last one current; made on first use).

Rotation chains: after a rotation the pseudonym is ``HMAC(new key, old pseudonym)``, so the
rekey job (``tastemaker privacy rekey-pseudonyms``) can rewrite every stored id without ever
knowing the raw ids (which nothing stores). The edge computes the whole chain (one HMAC per
key, then cached). Old keys must therefore be kept; what rotation buys is that a leaked key
alone no longer links stored ids to the ids callers use: every later key is needed too.
Tombstones of erased users stay keyed on the pseudonym of their time; ingest checks every
link of the chain (:meth:`Pseudonyms.forms`), so an erasure survives a rotation.

>>> p = Pseudonyms([b"k" * 32])
>>> pid = p("alice"); pid.startswith("p1:" + p.current + ":"), len(pid), p("alice") == pid
(True, 44, True)
>>> q = Pseudonyms([b"k" * 32, b"j" * 32])
>>> q("alice") == q.rewrap(pid)
True
"""

from __future__ import annotations

import hmac
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tastemaker.storage.pii import add_key, key_id, load_key_chain

KEY_ENV, OLD_KEYS_ENV, KEY_FILE = "TASTEMAKER_PSEUDONYM_KEY", "TASTEMAKER_PSEUDONYM_OLD_KEYS", "pseudonym.keys"
PREFIX = "p1:"
DIGEST_BYTES = 16  # 128 bits: a collision among 10^9 users has odds of about 10^-21
CACHE_SIZE = 1 << 16  # active users; a hit costs a dict look-up (~0.1 us), a miss an HMAC per key (~1 us)


def load_keys(data_dir: Path) -> list[bytes]:
    """The key chain, oldest first: from the environment, else the data dir's key file (made if absent)."""
    return load_key_chain(data_dir, KEY_ENV, OLD_KEYS_ENV, KEY_FILE)


def rotate_key_file(data_dir: Path) -> bytes:
    """Append a new current key to the data dir's key file (old keys stay: the chain needs them)."""
    return add_key(Path(data_dir) / KEY_FILE, keep_old=True)


class Pseudonyms:
    """The mapping raw user id -> pseudonym for a key chain (oldest key first)."""

    def __init__(self, keys: Sequence[bytes], cache_size: int = CACHE_SIZE):
        if not keys:
            raise ValueError("pseudonymization needs at least one key")
        # keyed HMAC states, copied per id: skips the key schedule (1.0 us a miss instead of 1.8 us)
        self._keys = [(key_id(k), hmac.new(bytes(k), digestmod="sha256")) for k in keys]
        self.current = self._keys[-1][0]
        self.prefixes = [f"{PREFIX}{kid}:" for kid, _ in self._keys]  # stored ids of each generation
        self._forms = lru_cache(maxsize=cache_size)(self._chain)

    @classmethod
    def open(cls, data_dir: Path) -> "Pseudonyms":
        return cls(load_keys(data_dir))

    @staticmethod
    def _wrap(kid: str, keyed: "hmac.HMAC", text: str) -> str:
        mac = keyed.copy()
        mac.update(text.encode())
        return f"{PREFIX}{kid}:{mac.digest()[:DIGEST_BYTES].hex()}"

    def _chain(self, user_id: str) -> tuple[str, ...]:
        out, text = [], user_id
        for kid, key in self._keys:
            text = self._wrap(kid, key, text)
            out.append(text)
        return tuple(out)

    def __call__(self, user_id: str) -> str:
        """The stored id for ``user_id`` (under the current key)."""
        return self._forms(user_id)[-1]

    def forms(self, user_id: str) -> tuple[str, ...]:
        """The id's pseudonym under each key generation, oldest first (tombstone checks)."""
        return self._forms(user_id)

    def generation(self, stored_id: str) -> int | None:
        """Which key generation a stored id is a pseudonym of (None: not a pseudonym, a raw id)."""
        if stored_id.startswith(PREFIX):
            for i, prefix in enumerate(self.prefixes):
                if stored_id.startswith(prefix):
                    return i
        return None

    def rewrap(self, stored_id: str) -> str:
        """A stored id under the current key: an older pseudonym is wrapped by each later key;
        a raw id (stored before pseudonymization was turned on) gets the whole chain."""
        generation = self.generation(stored_id)
        if generation is None:
            return self(stored_id)
        text = stored_id
        for kid, key in self._keys[generation + 1:]:
            text = self._wrap(kid, key, text)
        return text

    def erased_filter(self, erased: Callable[[Iterable[str]], list[str]]) -> Callable[[Iterable[str]], list[str]]:
        """``erased`` (tombstones over stored ids) made to take raw ids: an id is erased when
        any generation of its pseudonym was (a tombstone from before a rotation still holds), or
        the raw id itself (erased before pseudonymization was turned on)."""
        def erased_raw(user_ids: Iterable[str]) -> list[str]:
            owner: dict[str, str] = {}
            for uid in dict.fromkeys(user_ids):
                for form in (uid, *self._forms(uid)):
                    owner[form] = uid
            return list(dict.fromkeys(owner[form] for form in erased(list(owner))))
        return erased_raw

