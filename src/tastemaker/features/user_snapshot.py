"""Every user's state as a few columns: the snapshot form of ``OnlineState.users``.

Pickling a million users one object at a time cost most of a warm start (81 s per million
users of 20 events). A user's numbers are one ``bytes`` already (its slab, see
:mod:`tastemaker.features.user_state`), so the table is all slabs joined, their lengths,
the user ids, and the rare client session ids and searches: saving is a join, loading a
slice and an object per user. Event types and categories are stored by name, so a process
that interned them in another order reads the codes right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tastemaker.features.codes import CATEGORIES, EVENT_TYPES, Codes
from tastemaker.features.user_slab import AFFINITY, AFFINITY_DTYPE, COUNT_DTYPE, COUNTS, RECENT, RECENT_DTYPE, bounds

FORMAT = 2  # 1: a column per kind of record; 2: slabs
# sections whose records hold an interned code: section, record dtype, field, which names
_CODED = ((RECENT, RECENT_DTYPE, "type", "event_types"), (COUNTS, COUNT_DTYPE, "type", "event_types"),
          (AFFINITY, AFFINITY_DTYPE, "category", "categories"))


def pack_users(users: dict[str, Any]) -> dict[str, Any]:
    """The users as plain columns (lists, dicts, bytes and a numpy array)."""
    states = list(users.values())
    slabs = [u._slab for u in states]
    return {
        "format": FORMAT, "ids": list(users), "event_types": list(EVENT_TYPES.names),
        "categories": list(CATEGORIES.names),
        "slabs": b"".join(slabs), "lengths": np.fromiter(map(len, slabs), np.int64, len(slabs)),
        # rare: a client's session id, searches
        "sessions": {row: u._session for row, u in enumerate(states) if u._session is not None},
        "queries": {row: u._queries for row, u in enumerate(states) if u._queries},
    }


def _mapping(saved: list[str], codes: Codes) -> np.ndarray | None:
    """This process's code for each saved code, or None where they are the same."""
    mapping = np.fromiter((codes.code(name) for name in saved), np.int64, len(saved))
    return None if np.array_equal(mapping, np.arange(len(saved))) else mapping


def _recoded(slab: bytes, mappings: dict[str, np.ndarray | None]) -> bytes:
    """``slab`` with its interned codes mapped to this process's (the same length)."""
    for section, dtype, field, names in _CODED:
        mapping = mappings[names]
        start, end = bounds(slab, section)
        if mapping is not None and end > start:
            records = np.frombuffer(slab, dtype, (end - start) // dtype.itemsize, start).copy()
            records[field] = mapping[records[field]]
            slab = slab[:start] + records.tobytes() + slab[end:]
    return slab


def unpack_users(packed: dict[str, Any], user_class: type) -> dict[str, Any]:
    """The users that :func:`pack_users` packed, as ``user_class`` (``UserState``: passed in,
    so this module does not import the one that pickles through it)."""
    if packed.get("format") != FORMAT:
        raise ValueError(f"unknown user table format {packed.get('format')!r}")
    blob = packed["slabs"]
    ends = np.cumsum(packed["lengths"]).tolist()
    starts = [0, *ends[:-1]]
    mappings = {"event_types": _mapping(packed["event_types"], EVENT_TYPES),
                "categories": _mapping(packed["categories"], CATEGORIES)}
    slabs = [blob[a:b] for a, b in zip(starts, ends)]
    if any(m is not None for m in mappings.values()):  # rare: names interned in another order here
        slabs = [_recoded(slab, mappings) for slab in slabs]
    sessions, queries = packed["sessions"], packed["queries"]
    users: dict[str, Any] = {}
    new = user_class.__new__
    for row, (user_id, slab) in enumerate(zip(packed["ids"], slabs)):
        u = new(user_class)
        u._slab = slab
        u._session = sessions.get(row)
        u._queries = queries.get(row)
        users[user_id] = u
    return users


def unpack_one(packed: dict[str, Any], user_class: type) -> Any:
    """The single user of a table packed from ``{"": user}`` (how one ``UserState`` pickles)."""
    return unpack_users(packed, user_class)[""]
