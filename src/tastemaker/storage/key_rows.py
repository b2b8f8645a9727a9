"""The ``api_keys`` row of both SQL backends: its columns, and records to and from it.

Scopes and placements are comma-joined sorted names; placements NULL means every placement.

>>> r = key_record(("k1", "shop", "events:write,recs:read", "h", 1.0, 0, "key", None, None))
>>> sorted(r.scopes), r.placements
(['events:write', 'recs:read'], None)
>>> insert_params(r, "h")[2]
'events:write,recs:read'
"""

from __future__ import annotations

from tastemaker.storage.protocols import ApiKeyRecord

COLUMNS = "key_id, name, scopes, secret_hash, created_at, revoked, kind, user_id, placements"


def _split(text: str) -> frozenset[str]:
    return frozenset(s for s in text.split(",") if s)


def key_record(row: tuple) -> ApiKeyRecord:
    """The record of a row selected in :data:`COLUMNS` order (the secret's hash is row[3])."""
    key_id, name, scopes, _hash, created_at, revoked, kind, user_id, placements = row
    return ApiKeyRecord(key_id, name, _split(scopes), created_at, bool(revoked), kind, user_id,
                        None if placements is None else _split(placements))


def insert_params(record: ApiKeyRecord, secret_hash: str) -> tuple:
    """The row of a new key in :data:`COLUMNS` order but ``revoked`` (the backend writes false)."""
    return (record.key_id, record.name, ",".join(sorted(record.scopes)), secret_hash, record.created_at,
            record.kind, record.user_id, None if record.placements is None else ",".join(sorted(record.placements)))
