"""What the engine knows of one user right now: recent items, session, and item sets."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from operator import attrgetter

RECENT_LIMIT = 50
_BY_TS = attrgetter("ts")


@dataclass(slots=True)
class RecentEvent:
    item: int
    ts: float
    type: str


@dataclass(slots=True)
class UserState:
    """Per-user online state, updated before an event is acknowledged.

    Purchased, rated and disliked items are not recommended again unless a request or
    placement asks for them; ``seen`` items may be, at a penalty. ``interest`` holds the
    interest weight of the seen items whose weight is not 1 (a view's): the strongest event
    on each, a rating's replaced by a re-rating; the trained model folds the user in with
    these weights, as the training matrix holds them.
    """

    recent: list[RecentEvent] = field(default_factory=list)
    session_id: str | None = None
    session_start: float = 0.0
    session_items: list[int] = field(default_factory=list)
    last_ts: float = 0.0
    first_ts: float = 0.0
    event_count: int = 0
    seen: set[int] = field(default_factory=set)
    purchased: set[int] = field(default_factory=set)
    rated: set[int] = field(default_factory=set)
    disliked: set[int] = field(default_factory=set)
    interest: dict[int, float] = field(default_factory=dict)
    affinity: dict[str, float] = field(default_factory=dict)  # category -> weight
    type_counts: dict[str, int] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)

    def touch_session(self, session_id: str | None, ts: float, timeout: float, user_id: str) -> bool:
        """Move the session forward; returns True when this event starts a new session.

        A session ends after ``timeout`` seconds of inactivity or when the client sends a
        different session id.
        """
        expired = self.event_count == 0 or ts - self.last_ts > timeout
        switched = session_id is not None and session_id != self.session_id
        if expired or switched:
            self.session_id = session_id or f"{user_id}@{int(ts)}"  # sessionless clients get one per visit
            self.session_start = ts
            self.session_items = []
            return True
        return False

    def remember(self, item: int, ts: float, event_type: str) -> None:
        entry = RecentEvent(item, ts, event_type)
        if not self.recent or ts >= self.recent[-1].ts:
            self.recent.append(entry)
        else:  # a late (historical) event: keep the list in time order
            bisect.insort(self.recent, entry, key=_BY_TS)
        if len(self.recent) > RECENT_LIMIT:
            del self.recent[: len(self.recent) - RECENT_LIMIT]
        if item not in self.session_items:
            self.session_items.append(item)

    def recent_items(self, limit: int) -> list[int]:
        """Distinct recent items, newest first."""
        out: list[int] = []
        for r in reversed(self.recent):
            if r.item not in out:
                out.append(r.item)
                if len(out) == limit:
                    break
        return out

    def note_interest(self, item: int, weight: float, rating: bool) -> None:
        """Record an event's interest ``weight`` in ``item``: the strongest so far, except that
        a rating replaces the item's earlier rating-based weight (a re-rating is a new opinion)."""
        current = self.interest.get(item, 1.0 if item in self.seen else 0.0)
        new = weight if rating else max(current, weight)
        if new == 1.0:
            self.interest.pop(item, None)
        else:
            self.interest[item] = new

    def excluded(self) -> set[int]:
        return self.purchased | self.rated | self.disliked


def _user_state_getstate(self: UserState) -> tuple:
    # Snapshots hold millions of recent events: plain tuples pickle several times faster
    # than slotted objects.
    return (
        [(r.item, r.ts, r.type) for r in self.recent], self.session_id, self.session_start, self.session_items,
        self.last_ts, self.first_ts, self.event_count, self.seen, self.purchased, self.rated, self.disliked,
        self.affinity, self.type_counts, self.queries, self.interest,
    )


def _user_state_setstate(self: UserState, state: tuple) -> None:
    (recent, self.session_id, self.session_start, self.session_items, self.last_ts, self.first_ts, self.event_count,
     self.seen, self.purchased, self.rated, self.disliked, self.affinity, self.type_counts, self.queries,
     self.interest) = state
    self.recent = [RecentEvent(*r) for r in recent]


UserState.__getstate__ = _user_state_getstate  # type: ignore[method-assign]
UserState.__setstate__ = _user_state_setstate  # type: ignore[method-assign]
