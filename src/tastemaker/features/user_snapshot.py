"""Every user's state as a few columns: the snapshot form of ``OnlineState.users``.

Pickling a million users one object at a time cost most of a warm start (81 s per million
users of 20 events). Here each kind of record (recent events, seen items, ...) of all users
is one ``bytes`` with per-user lengths, and the scalars are numpy columns: saving is a join
per column, loading a slice per user and column. Event types and categories are stored by
name, so a process that interned them in another order reads the codes right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tastemaker.features.user_state import (
    AFFINITY_DTYPE,
    CATEGORIES,
    COUNT_DTYPE,
    EVENT_TYPES,
    RECENT_DTYPE,
    Codes,
    UserState,
)

FORMAT = 1
# per-user record columns: attribute, and the field of its records holding an interned code
_COLUMNS = (("_recent", "type"), ("_seen", None), ("_purchased", None), ("_rated", None), ("_disliked", None),
            ("_session_items", None), ("_type_counts", "type"), ("_affinity", "category"))
_DTYPES = {"_recent": RECENT_DTYPE, "_type_counts": COUNT_DTYPE, "_affinity": AFFINITY_DTYPE}
_SCALARS = (("event_count", np.int64), ("first_ts", np.float64), ("last_ts", np.float64),
            ("session_start", np.float64))


def pack_users(users: dict[str, UserState]) -> dict[str, Any]:
    """The users as plain columns (a dict of lists, bytes and numpy arrays)."""
    states = list(users.values())
    packed: dict[str, Any] = {"format": FORMAT, "ids": list(users),
                              "event_types": list(EVENT_TYPES.names), "categories": list(CATEGORIES.names)}
    for name, dtype in _SCALARS:
        packed[name] = np.fromiter((getattr(u, name) for u in states), dtype, len(states))
    for name, _ in _COLUMNS:
        parts = [getattr(u, name) for u in states]
        packed[name] = (b"".join(parts), np.fromiter(map(len, parts), np.int64, len(parts)))
    # rare: a client's session id, searches
    packed["sessions"] = {row: u._session for row, u in enumerate(states) if u._session is not None}
    packed["queries"] = {row: u._queries for row, u in enumerate(states) if u._queries}
    return packed


def _recoded(blob: bytes, dtype: np.dtype, field: str, saved: list[str], codes: Codes) -> bytes:
    """``blob`` with the saved codes of ``field`` mapped to this process's codes for the same names."""
    mapping = np.fromiter((codes.code(name) for name in saved), np.int64, len(saved))
    if not blob or np.array_equal(mapping, np.arange(len(saved))):
        return blob
    records = np.frombuffer(blob, dtype).copy()
    records[field] = mapping[records[field]]
    return records.tobytes()


def unpack_users(packed: dict[str, Any]) -> dict[str, UserState]:
    """The users that :func:`pack_users` packed."""
    if packed.get("format") != FORMAT:
        raise ValueError(f"unknown user table format {packed.get('format')!r}")
    ids = packed["ids"]
    names = {"type": (packed["event_types"], EVENT_TYPES), "category": (packed["categories"], CATEGORIES)}
    columns = []
    for name, field in _COLUMNS:
        blob, lengths = packed[name]
        if field is not None:
            blob = _recoded(blob, _DTYPES[name], field, *names[field])
        ends = np.cumsum(lengths).tolist()
        starts = [0, *ends[:-1]]
        columns.append([blob[a:b] for a, b in zip(starts, ends)])  # an empty slice is the shared b""
    scalars = [packed[name].tolist() for name, _ in _SCALARS]
    sessions, queries = packed["sessions"], packed["queries"]
    users: dict[str, UserState] = {}
    new = UserState.__new__
    for row, (user_id, recent, seen, purchased, rated, disliked, session_items, type_counts, affinity,
              event_count, first_ts, last_ts, session_start) in enumerate(zip(ids, *columns, *scalars)):
        u = new(UserState)
        u._recent, u._seen, u._purchased, u._rated, u._disliked = recent, seen, purchased, rated, disliked
        u._session_items, u._type_counts, u._affinity = session_items, type_counts, affinity
        u.event_count, u.first_ts, u.last_ts, u.session_start = event_count, first_ts, last_ts, session_start
        u._session = sessions.get(row)
        u._queries = queries.get(row)
        users[user_id] = u
    return users


def unpack_one(packed: dict[str, Any]) -> UserState:
    """The single user of a table packed from ``{"": user}`` (how one ``UserState`` pickles)."""
    return unpack_users(packed)[""]
