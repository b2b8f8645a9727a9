"""How quarantined events stay out of the online state, come back, or are taken out afterwards.

* :func:`hold`: a quarantined event is not folded at all (its log position is passed), so it
  adds nothing to popularity, trending, co-visitation, segment popularity or windows;
* :func:`fold_late`: a released event is folded as if it arrived now, by the same
  ``OnlineState.apply`` as every event (popularity and trending are exact whatever the
  order: forward decay; its co-visitation pairs are those of the user's history now);
* :class:`Ledger` and :func:`unfold`: a user found to be a bot after some of their events
  were folded (the rate or gap signals need a few events; a shilling burst is seen on its
  twelfth user) has those events taken back out: the ledger keeps, for users with fewer
  than :data:`PROBATION` events, what each folded event added (its items, weight, time,
  segments and co-visitation partners), and :func:`unfold` subtracts exactly that.
  Per-user state of the bot and the windowed features (features.stream) keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp

from tastemaker.features.state import COVISIT_RECENT, COVISIT_WINDOW_S, OnlineState, context_segments
from tastemaker.features.weights import interest_weight

PROBATION = 20  # events after which a user's folded events are no longer kept for taking back
MAX_LEDGER_USERS = 200_000  # beyond it the oldest users' entries are dropped


@dataclass
class Entry:
    """What one folded event added to the shared aggregates."""

    seq: int
    event_type: str
    item_id: str | None
    ts: float
    weight: float
    positions: list[int]
    partners: list[list[int]]
    segments: tuple[str, ...]


class Ledger:
    """Folded events of users still on probation, by user."""

    def __init__(self) -> None:
        self.users: dict[str, list[Entry]] = {}

    def note(self, state: OnlineState, seq: int, event_type: str, user_id: str, items: list[str],
             value: float | None, ts: float, context: dict[str, Any] | None) -> None:
        """Record, *before* ``state.apply`` folds it, what the event will add."""
        user = state.users.get(user_id)
        if user is not None and user.event_count >= PROBATION:
            self.users.pop(user_id, None)
            return
        weight = interest_weight(event_type, value)
        if weight <= 0 or event_type == "impression" or not items:
            entries = self.users.get(user_id)
            if entries is None and len(self.users) < MAX_LEDGER_USERS:
                self.users[user_id] = []
            return
        add = state.index.add
        positions = [add(item_id) for item_id in items]
        partners: list[list[int]] = []
        for k, pos in enumerate(positions):
            found = user.partners(pos, ts, COVISIT_RECENT, COVISIT_WINDOW_S) if user is not None else []
            # an event's earlier items are remembered before its later ones are paired
            earlier = [p for p in reversed(positions[:k]) if p != pos and p not in found]
            partners.append((earlier + found)[:COVISIT_RECENT])
        entries = self.users.get(user_id)
        if entries is None:
            if len(self.users) >= MAX_LEDGER_USERS:
                for key in list(self.users)[: MAX_LEDGER_USERS // 4]:
                    del self.users[key]
            entries = self.users[user_id] = []
        entries.append(Entry(seq, event_type, items[0], ts, weight, positions, partners,
                             tuple(context_segments(context))))

    def take(self, user_id: str) -> list[Entry]:
        """The user's recorded entries, forgotten here (they are about to be unfolded)."""
        return self.users.pop(user_id, None) or []


def hold(state: OnlineState, seq: int, ts: float | None = None) -> None:
    """Pass a quarantined event's log position without folding it. Its time still moves the
    state's clock (the latest event time seen), as it did when it was folded and taken back:
    live and replayed states decay to the same moment."""
    if seq > state.applied_seq:
        state.applied_seq = seq
        state.version += 1
        if ts is not None and ts > state.clock:
            state.clock = ts


def fold_late(state: OnlineState, seq: int, event_type: str, user_id: str, session_id: str | None,
              items: list[str], value: float | None, ts: float, context: dict[str, Any] | None = None,
              query: str | None = None) -> None:
    """Fold a released event (its ``seq`` is behind ``applied_seq``) through ``OnlineState.apply``."""
    applied = state.applied_seq
    state.applied_seq = seq - 1  # apply() folds only what is past applied_seq
    try:
        state.apply(seq, event_type, user_id, session_id, items, value, ts, context, query)
    finally:
        state.applied_seq = max(applied, seq)


def unfold(state: OnlineState, entries: Iterable[Entry]) -> int:
    """Subtract what ``entries`` added to popularity, trending, segment popularity and
    co-visitation (one co-visitation rewrite for all of them); how many were taken out."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    n = 0
    for entry in entries:
        n += 1
        w, ts = entry.weight, entry.ts
        for pos, partners in zip(entry.positions, entry.partners):
            state.popularity.add(pos, -w, ts)
            state.recent_popularity.add(pos, -w, ts)
            for segment in entry.segments:
                counter = state.segments.get(segment)
                if counter is not None:
                    counter.add(pos, -w, ts)
            for other in partners:
                rows += (pos, other)
                cols += (other, pos)
                vals += (w, w)
    if rows:
        size = max(len(state.index), max(rows) + 1)
        counts = sp.csr_matrix((np.asarray(vals), (np.asarray(rows), np.asarray(cols))), shape=(size, size))
        counts.sum_duplicates()
        state.covisitation.subtract(counts, np.asarray(counts.sum(axis=1)).ravel())
    if n:
        state.version += 1
    return n
