"""The audit log's hash chain: canonical JSON, record hashes, and verification.

Each record's ``hash`` is ``sha256(prev_hash + canonical JSON of the record without its
hash)``, ``prev_hash`` being the previous record's hash (64 zeros for the first). Changing,
inserting, removing or reordering any record then breaks every hash after it. Removing the
newest records leaves a valid shorter chain: keep the head hash (``tastemaker audit verify``
prints it) somewhere else to catch that too. Every backend chains with these functions, so
one verifier checks them all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

from tastemaker.storage.protocols import AuditRecord

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text, no NaN: one text per value.

    >>> canonical_json({"b": [1, 2.5], "a": "é"})
    '{"a":"é","b":[1,2.5]}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_body(seq: int, ts: float, actor: str, action: str, target: str, summary: dict[str, Any], address: str,
                prev_hash: str) -> dict[str, Any]:
    """What a record's hash covers: every field but the hash itself."""
    return {"seq": seq, "ts": ts, "actor": actor, "action": action, "target": target, "summary": summary,
            "address": address, "prev_hash": prev_hash}


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def expected_hash(record: AuditRecord) -> str:
    body = record_body(record.seq, record.ts, record.actor, record.action, record.target, record.summary,
                       record.address, record.prev_hash)
    return chain_hash(record.prev_hash, body)


@dataclass(frozen=True)
class Verification:
    """The outcome of :func:`verify`: ``ok``, how many records, the head hash, and the first
    broken record with the reason (``bad_seq`` is None when ``ok``)."""

    ok: bool
    records: int
    head: str
    bad_seq: int | None = None
    reason: str = ""


def verify(records: Iterable[AuditRecord]) -> Verification:
    """Walk the chain oldest first; stop at the first record that does not hold.

    >>> verify([]).ok
    True
    """
    prev, n, expected_seq = GENESIS, 0, 1
    for record in records:
        if record.seq != expected_seq:
            why = f"expected record {expected_seq} next, found {record.seq} (a record was removed or inserted)"
            return Verification(False, n, prev, record.seq, why)
        if record.prev_hash != prev:
            return Verification(False, n, prev, record.seq, "prev_hash is not the previous record's hash")
        if expected_hash(record) != record.hash:
            return Verification(False, n, prev, record.seq, "the record's hash does not match its content (it was changed)")
        prev, n, expected_seq = record.hash, n + 1, expected_seq + 1
    return Verification(True, n, prev)
