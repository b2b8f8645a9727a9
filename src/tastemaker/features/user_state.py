"""What the engine knows of one user right now: recent items, session, and item sets.

A server holds millions of these, so the layout is chosen for memory (issue 14): all of a
user's numbers live in one immutable ``bytes``, its *slab* (:mod:`tastemaker.features.user_slab`:
a header of times, the event count and section ends, then sections of fixed-size records),
so a user is two objects, with no object per element and nothing over-allocated; event
types and categories are interned (:mod:`tastemaker.features.codes`). A change builds a new
slab, so a reader on another thread keeps a consistent version. The set-, dict- and
list-valued attributes of the earlier layout (``seen``, ``interest``, ``recent``...) remain
as read-only copies; the request path reads arrays and byte scans
(:meth:`UserState.seen_items`, :meth:`UserState.has_seen`, ...) instead.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from tastemaker.features.codes import CATEGORIES, EVENT_TYPES
from tastemaker.features.user_slab import (AFFINITY, AFFINITY_RECORD, CODE, COUNT_RECORD, COUNTS, DISLIKED,
                                           EMPTY_SECTIONS, ENDS, ENDS_AT, EVENT_COUNT_AT, F32, F64, FIRST_TS_AT,
                                           HEADER, ITEM, LAST_TS_AT, PURCHASED, RATED, RECENT, RECENT_LIMIT,
                                           RECENT_RECORD, RECENTS, SCALARS, SEEN, SEEN_RECORD, SESSION,
                                           SESSION_START_AT, U32, append, bounds, find, item_bytes, items, splice,
                                           splice_many)

__all__ = ["RECENT_LIMIT", "QUERY_LIMIT", "RecentEvent", "UserState"]

QUERY_LIMIT = 20
_R = RECENT_RECORD.size


@dataclass(slots=True)
class RecentEvent:
    item: int
    ts: float
    type: str


def _scalar(offset: int, codec: struct.Struct, doc: str) -> property:
    def get(self: UserState) -> float | int:
        return codec.unpack_from(self._slab, offset)[0]

    def set_(self: UserState, value: float | int) -> None:
        slab = self._slab
        self._slab = b"".join((slab[:offset], codec.pack(value), slab[offset + codec.size:]))

    return property(get, set_, doc=doc)


def _item_set(section: int, doc: str) -> property:
    def get(self: UserState) -> frozenset[int]:
        return frozenset(items(self._slab, section).tolist())

    def set_(self: UserState, values: Iterable[int]) -> None:
        self._set_section(section, item_bytes(values))

    return property(get, set_, doc=doc + " (a read-only copy)")


class UserState:
    """Per-user online state, updated before an event is acknowledged.

    Purchased, rated and disliked items are not recommended again unless a request or
    placement asks for them; ``seen`` items (those with an event of positive interest) may
    be, at a penalty. ``interest`` holds the interest weight of the seen items whose weight
    is not 1 (a view's): the strongest event on each, a rating's replaced by a re-rating; the
    trained model folds the user in with these weights, as the training matrix holds them.
    ``recent`` are the latest :data:`RECENT_LIMIT` events of positive interest, in time order.
    """

    __slots__ = ("_slab", "_session", "_queries")

    first_ts = _scalar(FIRST_TS_AT, F64, "Time of the user's first event.")
    last_ts = _scalar(LAST_TS_AT, F64, "Time of the user's latest event.")
    session_start = _scalar(SESSION_START_AT, F64, "Time of the current session's first event.")
    event_count = _scalar(EVENT_COUNT_AT, U32, "Events of every type so far.")
    purchased = _item_set(PURCHASED, "Purchased items")
    rated = _item_set(RATED, "Rated items")
    disliked = _item_set(DISLIKED, "Disliked items")

    def __init__(self, *, first_ts: float = 0.0, last_ts: float = 0.0, event_count: int = 0,
                 session_id: str | None = None, session_start: float = 0.0,
                 seen: Iterable[int] = (), purchased: Iterable[int] = (), rated: Iterable[int] = (),
                 disliked: Iterable[int] = (), session_items: Iterable[int] = (),
                 affinity: Mapping[str, float] | None = None, type_counts: Mapping[str, int] | None = None,
                 queries: Iterable[str] = ()):
        self._slab = SCALARS.pack(first_ts, last_ts, session_start, event_count) + EMPTY_SECTIONS
        self._session = session_id  # the client's; None: the automatic one (session_id_for)
        self._queries: tuple[str, ...] | None = tuple(queries) or None
        for name, value in (("seen", seen), ("purchased", purchased), ("rated", rated), ("disliked", disliked),
                            ("session_items", session_items), ("affinity", affinity), ("type_counts", type_counts)):
            if value:
                setattr(self, name, value)

    def _set_section(self, section: int, data: bytes) -> None:
        slab = self._slab
        self._slab = splice(slab, section, *bounds(slab, section), data)

    # -- events and sessions ----------------------------------------------------------------
    def touch_session(self, session_id: str | None, ts: float, timeout: float, user_id: str) -> bool:
        """Move the session forward; returns True when this event starts a new session.

        A session ends after ``timeout`` seconds of inactivity or when the client sends a
        different session id.
        """
        _, last, _, count = SCALARS.unpack_from(self._slab)
        expired = count == 0 or ts - last > timeout
        switched = session_id is not None and session_id != self.session_id_for(user_id)
        if not (expired or switched):
            return False
        slab = self._slab
        a, b = bounds(slab, SESSION)
        scalars = b"".join((slab[:SESSION_START_AT], F64.pack(ts), slab[SESSION_START_AT + 8:ENDS_AT]))
        self._slab = splice(slab, SESSION, a, b, b"", scalars) if b > a else scalars + slab[ENDS_AT:]
        self._session = session_id or None
        return True

    def session_id_for(self, user_id: str) -> str | None:
        """The current session's id: the client's, else ``"<user_id>@<start second>"`` (one
        per visit of a sessionless client); None before the first event. Derived, not stored:
        a string per user costs more than the rest of a small user's state."""
        if self._session is not None:
            return self._session
        return f"{user_id}@{int(self.session_start)}" if self.event_count else None

    def record_event(self, event_type: str, ts: float) -> None:
        """Count one event of ``event_type`` at ``ts`` (event count, latest time, count by type)."""
        slab = self._slab
        first, last, start, count = SCALARS.unpack_from(slab)
        code = EVENT_TYPES.code(event_type)
        at = find(slab, CODE.pack(code), COUNTS)
        scalars = SCALARS.pack(first, max(last, ts), start, count + 1)
        if at < 0:
            end = bounds(slab, COUNTS)[1]
            self._slab = splice(slab, COUNTS, end, end, COUNT_RECORD.pack(code, 1), scalars)
        else:
            record = COUNT_RECORD.pack(code, COUNT_RECORD.unpack_from(slab, at)[1] + 1)
            self._slab = splice(slab, COUNTS, at, at + COUNT_RECORD.size, record, scalars)

    def type_count(self, event_type: str) -> int:
        code = EVENT_TYPES.codes.get(event_type)
        at = -1 if code is None else find(self._slab, CODE.pack(code), COUNTS)
        return 0 if at < 0 else COUNT_RECORD.unpack_from(self._slab, at)[1]

    @property
    def type_counts(self) -> dict[str, int]:
        """Events per type, in order of each type's first event (a copy)."""
        names, slab = EVENT_TYPES.names, self._slab
        return {names[code]: n for code, n in COUNT_RECORD.iter_unpack(slab[slice(*bounds(slab, COUNTS))])}

    @type_counts.setter
    def type_counts(self, counts: Mapping[str, int]) -> None:
        self._set_section(COUNTS, b"".join(COUNT_RECORD.pack(EVENT_TYPES.code(k), v) for k, v in counts.items()))

    @property
    def session_items(self) -> list[int]:
        """Distinct items of the current session's positive events, in first-seen order (a copy)."""
        return items(self._slab, SESSION).tolist()

    @session_items.setter
    def session_items(self, values: Iterable[int]) -> None:
        self._set_section(SESSION, item_bytes(values))

    # -- recent events ----------------------------------------------------------------------
    def remember(self, item: int, ts: float, event_type: str) -> None:
        """Add an event of positive interest to the recent ones (in time order, the newest
        :data:`RECENT_LIMIT` kept) and its item to the session's."""
        record = RECENT_RECORD.pack(ts, item, EVENT_TYPES.code(event_type))
        slab = self._slab
        start, end = bounds(slab, RECENT)
        at = end
        if end > start and ts < F64.unpack_from(slab, end - _R)[0]:  # a late (historical) event
            lo, hi = 0, (end - start) // _R  # after every event at or before its time
            while lo < hi:
                mid = (lo + hi) // 2
                if ts < F64.unpack_from(slab, start + mid * _R)[0]:
                    hi = mid
                else:
                    lo = mid + 1
            at = start + lo * _R
        key = ITEM.pack(item)
        edits = []
        session_start, session_end = bounds(slab, SESSION)
        if find(slab, key, SESSION, session_start, session_end) < 0:
            edits.append((SESSION, session_end, session_end, key))
        if end - start < RECENT_LIMIT * _R:
            edits.append((RECENT, at, at, record))
        elif at > start:  # full: the oldest goes (one that would be older still is not kept)
            edits += ((RECENT, start, start + _R, b""), (RECENT, at, at, record))
        if edits:
            self._slab = splice_many(slab, edits)

    @property
    def n_recent(self) -> int:
        start, end = bounds(self._slab, RECENT)
        return (end - start) // _R

    @property
    def recent(self) -> list[RecentEvent]:
        """The latest events of positive interest, oldest first (a copy)."""
        names, slab = EVENT_TYPES.names, self._slab
        return [RecentEvent(item, ts, names[code])
                for ts, item, code in RECENT_RECORD.iter_unpack(slab[slice(*bounds(slab, RECENT))])]

    def latest_distinct(self, limit: int, within: set[int] | None = None) -> list[tuple[int, str]]:
        """``(item, event type)`` of the newest event on each of the ``limit`` most recent
        distinct items (only items in ``within``, when given), newest first."""
        out: list[tuple[int, str]] = []
        taken: set[int] = set()
        slab, names, unpack = self._slab, EVENT_TYPES.names, RECENT_RECORD.unpack_from
        start, end = bounds(slab, RECENT)
        for offset in range(end - _R, start - 1, -_R):
            _, item, code = unpack(slab, offset)
            if item in taken or (within is not None and item not in within):
                continue
            taken.add(item)
            out.append((item, names[code]))
            if len(out) == limit:
                break
        return out

    def recent_items(self, limit: int) -> list[int]:
        """Distinct recent items, newest first."""
        return [item for item, _ in self.latest_distinct(limit)]

    def partners(self, item: int, ts: float, count: int, window: float) -> list[int]:
        """The distinct items among the last ``count`` recent events that are not ``item``
        and lie within ``window`` seconds before ``ts`` (or after it: a late event), newest
        first. The records are in time order, so the scan stops at the first one too old."""
        out: list[int] = []
        slab = self._slab
        start, end = bounds(slab, RECENT)
        n = min((end - start) // _R, count)
        if n:
            fields = RECENTS[n].unpack_from(slab, end - n * _R)  # the n records in one call
            for j in range(3 * n - 3, -1, -3):
                if ts - fields[j] > window:
                    break
                r_item = fields[j + 1]
                if r_item != item and r_item not in out:
                    out.append(r_item)
        return out

    # -- seen items and their interest ------------------------------------------------------
    def note_interest(self, item: int, weight: float, rating: bool) -> None:
        """Record an event's interest ``weight`` in ``item``: the strongest so far, except that
        a rating replaces the item's earlier rating-based weight (a re-rating is a new opinion).
        A positive weight makes the item seen; a weight of 0 (a rating at or below neutral)
        only changes an item already seen."""
        slab = self._slab
        at = find(slab, ITEM.pack(item), SEEN)
        if at < 0:
            if weight > 0:
                self._slab = append(slab, SEEN, SEEN_RECORD.pack(item, weight))
            return
        current = F32.unpack_from(slab, at + 4)[0]
        new = weight if rating else max(current, weight)
        if new != current:
            self._slab = splice(slab, SEEN, at, at + SEEN_RECORD.size, SEEN_RECORD.pack(item, new))

    def has_seen(self, item: int) -> bool:
        return find(self._slab, ITEM.pack(item), SEEN) >= 0

    @property
    def n_seen(self) -> int:
        start, end = bounds(self._slab, SEEN)
        return (end - start) // SEEN_RECORD.size

    def seen_items(self) -> np.ndarray:
        """The seen items (int64, in first-seen order)."""
        return items(self._slab, SEEN, stride=2)

    def interest_items(self) -> tuple[np.ndarray, np.ndarray]:
        """The seen items (int64) and their interest weights (float32; 1 for a view)."""
        slab = self._slab  # one reference: items and weights of the same version
        start, end = bounds(slab, SEEN)
        return items(slab, SEEN, stride=2), np.frombuffer(slab, np.float32, (end - start) // 4, start)[1::2].copy()

    @property
    def seen(self) -> frozenset[int]:
        """Items with an event of positive interest (a read-only copy)."""
        return frozenset(self.seen_items().tolist())

    @seen.setter
    def seen(self, values: Iterable[int]) -> None:
        old = self.interest
        self._set_section(SEEN, b"".join(SEEN_RECORD.pack(i, old.get(i, 1.0)) for i in dict.fromkeys(int(i) for i in values)))

    @property
    def interest(self) -> dict[int, float]:
        """Interest weight of each seen item whose weight is not 1 (a copy)."""
        slab = self._slab
        return {item: w for item, w in SEEN_RECORD.iter_unpack(slab[slice(*bounds(slab, SEEN))]) if w != 1.0}

    # -- purchased, rated, disliked ---------------------------------------------------------
    def _add_item(self, section: int, item: int) -> None:
        slab, key = self._slab, ITEM.pack(item)
        if find(slab, key, section) < 0:
            self._slab = append(slab, section, key)

    def add_purchased(self, item: int) -> None:
        self._add_item(PURCHASED, item)

    def add_rated(self, item: int) -> None:
        self._add_item(RATED, item)

    def add_disliked(self, item: int) -> None:
        self._add_item(DISLIKED, item)

    @property
    def n_purchased(self) -> int:
        start, end = bounds(self._slab, PURCHASED)
        return (end - start) // 4

    def purchased_items(self) -> np.ndarray:
        return items(self._slab, PURCHASED)

    def disliked_items(self) -> np.ndarray:
        return items(self._slab, DISLIKED)

    def excluded_items(self) -> np.ndarray:
        """Purchased, rated and disliked items (int64; an item may appear more than once)."""
        return items(self._slab, PURCHASED, DISLIKED)  # adjacent sections

    def has_excluded(self, item: int) -> bool:
        slab, key = self._slab, ITEM.pack(item)
        return any(find(slab, key, section) >= 0 for section in (PURCHASED, RATED, DISLIKED))

    def excluded(self) -> set[int]:
        return set(self.excluded_items().tolist())

    # -- categories and searches ------------------------------------------------------------
    def add_affinity(self, category: str, weight: float) -> None:
        code = CATEGORIES.code(category)
        slab = self._slab
        at = find(slab, ITEM.pack(code), AFFINITY)
        if at < 0:
            self._slab = append(slab, AFFINITY, AFFINITY_RECORD.pack(code, 0.0 + weight))
        else:
            total = F64.unpack_from(slab, at + 4)[0] + weight
            self._slab = splice(slab, AFFINITY, at, at + AFFINITY_RECORD.size, AFFINITY_RECORD.pack(code, total))

    @property
    def affinity(self) -> dict[str, float]:
        """Category -> summed interest weight, in order of first interest (a copy)."""
        slab = self._slab
        start, end = bounds(slab, AFFINITY)
        if start == end:
            return {}
        names = CATEGORIES.names
        return {names[code]: weight for code, weight in AFFINITY_RECORD.iter_unpack(slab[start:end])}

    @affinity.setter
    def affinity(self, weights: Mapping[str, float]) -> None:
        self._set_section(AFFINITY, b"".join(AFFINITY_RECORD.pack(CATEGORIES.code(k), v) for k, v in weights.items()))

    def add_query(self, query: str) -> None:
        self._queries = (*(self._queries or ()), query)[-QUERY_LIMIT:]

    @property
    def queries(self) -> list[str]:
        """The latest searches, oldest first (a copy)."""
        return list(self._queries or ())

    @queries.setter
    def queries(self, queries: Iterable[str]) -> None:
        self._queries = tuple(queries) or None

    # -- comparison and pickling --------------------------------------------------------------
    def _view(self) -> tuple:
        slab = self._slab
        return (slab[:HEADER - ENDS.size], slab[slice(*bounds(slab, RECENT))], dict(SEEN_RECORD.iter_unpack(
            slab[slice(*bounds(slab, SEEN))])), self.session_items, self.purchased, self.rated, self.disliked,
                self.affinity, self.type_counts, self._session, self._queries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UserState):
            return NotImplemented
        return self._view() == other._view()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (f"UserState(event_count={self.event_count}, last_ts={self.last_ts}, recent={self.n_recent}, "
                f"seen={self.n_seen}, purchased={self.n_purchased})")

    def __reduce__(self) -> tuple:
        # One user alone pickles as a table of one: the same (portable) form as snapshots.
        from tastemaker.features.user_snapshot import pack_users, unpack_one

        return unpack_one, (pack_users({"": self}), UserState)
