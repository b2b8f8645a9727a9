"""What the engine knows of one user right now: recent items, session, and item sets.

A server holds one :class:`UserState` per user, millions of them, so the layout is chosen
for memory (issue 14). Each collection is one immutable ``bytes`` of fixed-size records
(33 bytes of header, no per-element object, never over-allocated, not tracked by the
garbage collector), replaced rather than grown in place on a change: a reader on another
thread that took a reference keeps a consistent copy, and numpy reads it without copying
elements one by one. Event types and categories are interned to small codes
(:data:`EVENT_TYPES`, :data:`CATEGORIES`). The set-, dict- and list-valued attributes of
the earlier layout (``seen``, ``interest``, ``recent``...) remain as read-only properties
that build the old type; the request path reads the arrays (:meth:`UserState.seen_items`,
:meth:`UserState.has_seen`, ...) instead.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np

from tastemaker.features.weights import EVENT_WEIGHTS

RECENT_LIMIT = 50
QUERY_LIMIT = 20
# Native byte order, standard sizes, no padding: numpy reads the same records with the dtypes below.
_RECENT = struct.Struct("=diH")  # time, item, event type code
_SEEN = struct.Struct("=if")  # item, interest weight (float32: the model folds the user in at float32)
_ITEM = struct.Struct("=i")
_COUNT = struct.Struct("=HI")  # event type code, events of that type
_AFFINITY = struct.Struct("=id")  # category code, summed weight
_CODE = struct.Struct("=H")
_TS = struct.Struct("=d")
_CAT = _ITEM
RECENT_DTYPE = np.dtype([("ts", "=f8"), ("item", "=i4"), ("type", "=u2")])
COUNT_DTYPE = np.dtype([("type", "=u2"), ("count", "=u4")])
AFFINITY_DTYPE = np.dtype([("category", "=i4"), ("weight", "=f8")])
_R, _S = _RECENT.size, _SEEN.size


class Codes:
    """Interned names (event types, categories) <-> small integer codes, for this process.

    Codes are never reused. Snapshots store the names, so a process that interned in
    another order maps them back (:mod:`tastemaker.features.user_snapshot`).
    """

    def __init__(self, names: Iterable[str] = (), limit: int = 2**31 - 1):
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        self.limit = limit
        self._lock = threading.Lock()  # two threads interning one new name must agree on its code
        for name in names:
            self.code(name)

    def code(self, name: str) -> int:
        code = self.codes.get(name)
        if code is None:
            with self._lock:
                code = self.codes.get(name)
                if code is None:
                    if len(self.names) >= self.limit:
                        raise ValueError(f"more than {self.limit} distinct names: cannot intern {name!r}")
                    code = len(self.names)
                    self.names.append(name)  # before the mapping: a reader never sees a code past names
                    self.codes[name] = code
        return code


# The built-in types first, so their codes are the same in every process.
EVENT_TYPES = Codes(EVENT_WEIGHTS, limit=2**16)
CATEGORIES = Codes()


@dataclass(slots=True)
class RecentEvent:
    item: int
    ts: float
    type: str


def _find(buf: bytes, key: bytes, size: int) -> int:
    """Offset of the ``size``-byte record of ``buf`` that starts with ``key``, or -1.

    A C-speed scan (``bytes.find``); matches that straddle records are skipped.
    """
    at = buf.find(key)
    while at % size:
        if at < 0:
            return -1
        at = buf.find(key, at + 1)
    return at


def _items_bytes(items: Iterable[int]) -> bytes:
    """Distinct ``items`` as int32 records, in first-seen order."""
    return np.fromiter(dict.fromkeys(int(i) for i in items), np.int32).tobytes()


def _item_array(buf: bytes) -> np.ndarray:
    return np.frombuffer(buf, np.int32).astype(np.int64)


class UserState:
    """Per-user online state, updated before an event is acknowledged.

    Purchased, rated and disliked items are not recommended again unless a request or
    placement asks for them; ``seen`` items (those with an event of positive interest) may
    be, at a penalty. ``interest`` holds the interest weight of the seen items whose weight
    is not 1 (a view's): the strongest event on each, a rating's replaced by a re-rating; the
    trained model folds the user in with these weights, as the training matrix holds them.

    ``recent`` are the latest :data:`RECENT_LIMIT` events of positive interest, in time
    order; a session is the run of events without a gap longer than the timeout and without a
    change of the client's session id (:meth:`session_id_for`).
    """

    __slots__ = ("_recent", "_seen", "_purchased", "_rated", "_disliked", "_session_items", "_type_counts",
                 "_affinity", "_queries", "_session", "session_start", "last_ts", "first_ts", "event_count")

    def __init__(self, *, first_ts: float = 0.0, last_ts: float = 0.0, event_count: int = 0,
                 session_id: str | None = None, session_start: float = 0.0,
                 seen: Iterable[int] = (), purchased: Iterable[int] = (), rated: Iterable[int] = (),
                 disliked: Iterable[int] = (), session_items: Iterable[int] = (),
                 affinity: Mapping[str, float] | None = None, type_counts: Mapping[str, int] | None = None,
                 queries: Iterable[str] = ()):
        self._recent = b""
        self._session = session_id
        self.session_start = session_start
        self.last_ts = last_ts
        self.first_ts = first_ts
        self.event_count = event_count
        self.seen = seen
        self.purchased = purchased
        self.rated = rated
        self.disliked = disliked
        self.session_items = session_items
        self.affinity = affinity or {}
        self.type_counts = type_counts or {}
        self.queries = queries

    # -- sessions -------------------------------------------------------------------------
    def touch_session(self, session_id: str | None, ts: float, timeout: float, user_id: str) -> bool:
        """Move the session forward; returns True when this event starts a new session.

        A session ends after ``timeout`` seconds of inactivity or when the client sends a
        different session id.
        """
        expired = self.event_count == 0 or ts - self.last_ts > timeout
        switched = session_id is not None and session_id != self.session_id_for(user_id)
        if expired or switched:
            # sessionless clients get one per visit, named by its start (see session_id_for)
            self._session = session_id or None
            self.session_start = ts
            self._session_items = b""
            return True
        return False

    def session_id_for(self, user_id: str) -> str | None:
        """The current session's id: the client's, else ``"<user_id>@<start second>"``
        (None before the first event). Not stored: it costs a string per user."""
        if self._session is not None:
            return self._session
        return f"{user_id}@{int(self.session_start)}" if self.event_count else None

    @property
    def session_items(self) -> list[int]:
        """Distinct items of the current session's positive events, in first-seen order."""
        return np.frombuffer(self._session_items, np.int32).tolist()

    @session_items.setter
    def session_items(self, items: Iterable[int]) -> None:
        self._session_items = _items_bytes(items)

    # -- recent events ----------------------------------------------------------------------
    def remember(self, item: int, ts: float, event_type: str) -> None:
        record = _RECENT.pack(ts, item, EVENT_TYPES.code(event_type))
        buf = self._recent
        if not buf or ts >= _TS.unpack_from(buf, len(buf) - _R)[0]:
            buf += record
        else:  # a late (historical) event: after every event at or before its time
            lo, hi = 0, len(buf) // _R
            while lo < hi:
                mid = (lo + hi) // 2
                if ts < _TS.unpack_from(buf, mid * _R)[0]:
                    hi = mid
                else:
                    lo = mid + 1
            buf = buf[: lo * _R] + record + buf[lo * _R:]
        if len(buf) > RECENT_LIMIT * _R:
            buf = buf[-RECENT_LIMIT * _R:]
        self._recent = buf
        key = _ITEM.pack(item)
        if _find(self._session_items, key, 4) < 0:
            self._session_items += key

    @property
    def recent(self) -> list[RecentEvent]:
        """The latest events of positive interest, oldest first (a copy)."""
        names = EVENT_TYPES.names
        return [RecentEvent(item, ts, names[code]) for ts, item, code in _RECENT.iter_unpack(self._recent)]

    @property
    def n_recent(self) -> int:
        return len(self._recent) // _R

    def latest_distinct(self, limit: int, within: set[int] | None = None) -> list[tuple[int, str]]:
        """``(item, event type)`` of the newest event on each of the ``limit`` most recent
        distinct items (only items in ``within``, when given), newest first."""
        out: list[tuple[int, str]] = []
        taken: set[int] = set()
        buf, names, unpack = self._recent, EVENT_TYPES.names, _RECENT.unpack_from
        for offset in range(len(buf) - _R, -1, -_R):
            _, item, code = unpack(buf, offset)
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
        buf, unpack = self._recent, _RECENT.unpack_from
        for offset in range(len(buf) - _R, max(len(buf) - count * _R, 0) - 1, -_R):
            r_ts, r_item, _ = unpack(buf, offset)
            if ts - r_ts > window:
                break
            if r_item != item and r_item not in out:
                out.append(r_item)
        return out

    # -- seen items and their interest ------------------------------------------------------
    def note_interest(self, item: int, weight: float, rating: bool) -> None:
        """Record an event's interest ``weight`` in ``item``: the strongest so far, except that
        a rating replaces the item's earlier rating-based weight (a re-rating is a new opinion).
        A positive weight makes the item seen; a weight of 0 (a rating at or below neutral)
        only changes an item already seen."""
        buf = self._seen
        at = _find(buf, _ITEM.pack(item), _S)
        if at < 0:
            if weight > 0:
                self._seen = buf + _SEEN.pack(item, weight)
            return
        current = _SEEN.unpack_from(buf, at)[1]
        new = weight if rating else max(current, weight)
        if new != current:
            self._seen = buf[:at] + _SEEN.pack(item, new) + buf[at + _S:]

    def has_seen(self, item: int) -> bool:
        return _find(self._seen, _ITEM.pack(item), _S) >= 0

    @property
    def n_seen(self) -> int:
        return len(self._seen) // _S

    def seen_items(self) -> np.ndarray:
        """The seen items (int64, in first-seen order)."""
        return np.frombuffer(self._seen, np.int32)[::2].astype(np.int64)

    def interest_items(self) -> tuple[np.ndarray, np.ndarray]:
        """The seen items (int64) and their interest weights (float32; 1 for a view)."""
        buf = self._seen  # one reference: items and weights from the same version
        return np.frombuffer(buf, np.int32)[::2].astype(np.int64), np.frombuffer(buf, np.float32)[1::2].copy()

    @property
    def seen(self) -> frozenset[int]:
        """Items with an event of positive interest (a read-only copy)."""
        return frozenset(np.frombuffer(self._seen, np.int32)[::2].tolist())

    @seen.setter
    def seen(self, items: Iterable[int]) -> None:
        old = self.interest if getattr(self, "_seen", b"") else {}
        self._seen = b"".join(_SEEN.pack(i, old.get(i, 1.0)) for i in dict.fromkeys(int(i) for i in items))

    @property
    def interest(self) -> dict[int, float]:
        """Interest weight of each seen item whose weight is not 1 (a copy)."""
        return {item: weight for item, weight in _SEEN.iter_unpack(self._seen) if weight != 1.0}

    # -- purchased, rated, disliked ---------------------------------------------------------
    def add_purchased(self, item: int) -> None:
        key = _ITEM.pack(item)
        if _find(self._purchased, key, 4) < 0:
            self._purchased += key

    def add_rated(self, item: int) -> None:
        key = _ITEM.pack(item)
        if _find(self._rated, key, 4) < 0:
            self._rated += key

    def add_disliked(self, item: int) -> None:
        key = _ITEM.pack(item)
        if _find(self._disliked, key, 4) < 0:
            self._disliked += key

    @property
    def purchased(self) -> frozenset[int]:
        return frozenset(np.frombuffer(self._purchased, np.int32).tolist())

    @purchased.setter
    def purchased(self, items: Iterable[int]) -> None:
        self._purchased = _items_bytes(items)

    @property
    def rated(self) -> frozenset[int]:
        return frozenset(np.frombuffer(self._rated, np.int32).tolist())

    @rated.setter
    def rated(self, items: Iterable[int]) -> None:
        self._rated = _items_bytes(items)

    @property
    def disliked(self) -> frozenset[int]:
        return frozenset(np.frombuffer(self._disliked, np.int32).tolist())

    @disliked.setter
    def disliked(self, items: Iterable[int]) -> None:
        self._disliked = _items_bytes(items)

    @property
    def n_purchased(self) -> int:
        return len(self._purchased) // 4

    def purchased_items(self) -> np.ndarray:
        return _item_array(self._purchased)

    def disliked_items(self) -> np.ndarray:
        return _item_array(self._disliked)

    def excluded_items(self) -> np.ndarray:
        """Purchased, rated and disliked items (int64; an item may appear more than once)."""
        return _item_array(self._purchased + self._rated + self._disliked)

    def has_excluded(self, item: int) -> bool:
        key = _ITEM.pack(item)
        return _find(self._purchased, key, 4) >= 0 or _find(self._rated, key, 4) >= 0 or _find(self._disliked, key, 4) >= 0

    def excluded(self) -> set[int]:
        return set(self.excluded_items().tolist())

    # -- counts, categories, queries --------------------------------------------------------
    def count_event(self, event_type: str) -> None:
        code = EVENT_TYPES.code(event_type)
        buf = self._type_counts
        at = _find(buf, _CODE.pack(code), _COUNT.size)
        if at < 0:
            self._type_counts = buf + _COUNT.pack(code, 1)
        else:
            self._type_counts = buf[:at] + _COUNT.pack(code, _COUNT.unpack_from(buf, at)[1] + 1) + buf[at + _COUNT.size:]

    def type_count(self, event_type: str) -> int:
        code = EVENT_TYPES.codes.get(event_type)
        at = -1 if code is None else _find(self._type_counts, _CODE.pack(code), _COUNT.size)
        return 0 if at < 0 else _COUNT.unpack_from(self._type_counts, at)[1]

    @property
    def type_counts(self) -> dict[str, int]:
        """Events per type, in order of each type's first event (a copy)."""
        names = EVENT_TYPES.names
        return {names[code]: count for code, count in _COUNT.iter_unpack(self._type_counts)}

    @type_counts.setter
    def type_counts(self, counts: Mapping[str, int]) -> None:
        self._type_counts = b"".join(_COUNT.pack(EVENT_TYPES.code(k), v) for k, v in counts.items())

    def add_affinity(self, category: str, weight: float) -> None:
        code = CATEGORIES.code(category)
        buf = self._affinity
        at = _find(buf, _CAT.pack(code), _AFFINITY.size)
        if at < 0:
            self._affinity = buf + _AFFINITY.pack(code, 0.0 + weight)
        else:
            total = _AFFINITY.unpack_from(buf, at)[1] + weight
            self._affinity = buf[:at] + _AFFINITY.pack(code, total) + buf[at + _AFFINITY.size:]

    @property
    def affinity(self) -> dict[str, float]:
        """Category -> summed interest weight, in order of first interest (a copy)."""
        if not self._affinity:
            return {}
        names = CATEGORIES.names
        return {names[code]: weight for code, weight in _AFFINITY.iter_unpack(self._affinity)}

    @affinity.setter
    def affinity(self, weights: Mapping[str, float]) -> None:
        self._affinity = b"".join(_AFFINITY.pack(CATEGORIES.code(k), v) for k, v in weights.items())

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
        return (self._recent, self._session, self.session_start, self._session_items, self.last_ts, self.first_ts,
                self.event_count, dict(_SEEN.iter_unpack(self._seen)), self.purchased, self.rated, self.disliked,
                self.affinity, self.type_counts, self._queries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UserState):
            return NotImplemented
        return self._view() == other._view()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (f"UserState(event_count={self.event_count}, last_ts={self.last_ts}, recent={self.n_recent}, "
                f"seen={self.n_seen}, purchased={self.n_purchased})")

    def __reduce__(self) -> tuple:
        # One user alone pickles as a table of one: the same (portable) format as snapshots.
        from tastemaker.features.user_snapshot import pack_users, unpack_one

        return unpack_one, (pack_users({"": self}),)
