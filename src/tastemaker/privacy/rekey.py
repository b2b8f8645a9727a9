"""Rewriting stored user ids after a pseudonym key rotation (``tastemaker privacy rekey-pseudonyms``).

Stored ids are pseudonyms of some key generation (privacy.pseudonyms); after a new key is
appended, :meth:`Pseudonyms.rewrap` turns each into the current generation's pseudonym
without the raw id (the chain wraps the old pseudonym). This job applies it everywhere an id
is stored: the event log (API rows and bulk-import segments), impressions, browser-key
bindings (``Stores.rename_user_ids``, one transaction) and profiles (re-written through the
user store, so sealed PII traits are re-sealed under the new id they are bound to). The
online-state snapshot holds the old ids, so it is dropped; the next open replays the log into
a fresh one. Ids stored raw (written before pseudonymization was turned on) get the whole
chain, so the same job pseudonymizes an existing data dir.

What it leaves: tombstones (keyed digests of the pseudonym of their time; ingest checks every
generation) and audit records (append-only and hash-chained: they keep the pseudonym of their
time). Run it with the server stopped, then ``reclaim`` so the old ids leave the files.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tastemaker.privacy.pseudonyms import Pseudonyms


def rekey_pseudonyms(stores: Any, pseudonyms: Pseudonyms, snapshot_key: str | None) -> dict[str, int]:
    """Rewrite every stored user id under the current key; returns rows changed per store."""
    if stores.rename_user_ids is None:
        raise NotImplementedError("this storage backend cannot rename user ids")
    counts = stores.rename_user_ids(pseudonyms.rewrap)
    _, rows = stores.users.changes_since(0)  # a list (opened documents), read before anything is rewritten
    renamed, batch, olds = 0, [], []
    for user_id, user in rows:
        new_id = pseudonyms.rewrap(user_id)
        if new_id == user_id:
            continue
        if user is not None:
            batch.append(msgspec.structs.replace(user, id=new_id))
        olds.append(user_id)
        if len(olds) >= 1000:
            renamed += _move(stores.users, batch, olds)
            batch, olds = [], []
    renamed += _move(stores.users, batch, olds)
    counts["profiles"] = renamed
    counts["snapshot_dropped"] = int(bool(snapshot_key) and stores.artifacts.delete(snapshot_key))
    return counts


def _move(users: Any, docs: list, old_ids: list[str]) -> int:
    """Write the renamed documents, then remove the old rows (the row itself: a delete would
    keep the old id as a tombstone for followers); in that order, so a crash loses nothing."""
    if docs:
        users.upsert(docs)
    for user_id in old_ids:
        users.erase_user(user_id)
    return len(old_ids)
