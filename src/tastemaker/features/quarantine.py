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

from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from tastemaker.features.state import (
    COVISIT_RECENT,
    COVISIT_WINDOW_S,
    OnlineState,
    context_segments,
)
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
    """Folded events of users still on probation, by user, recorded as they came (a tuple per
    event: the cost on the write path is an append). :meth:`take` rebuilds what each added:
    its weight, segments, and co-visitation partners, which are the distinct items of the
    user's last :data:`COVISIT_RECENT` remembered events within the window, as
    ``UserState.partners`` finds them; the ledger holds the user's whole history from their
    first event, so the rebuild is exact (a user whose probation began before a restart has
    older events the ledger never saw: pairs with those stay counted)."""

    def __init__(self) -> None:
        # user -> their events so far, or None once past probation (never recorded again)
        self.users: dict[str, list[tuple] | None] = {}

    def note(self, state: OnlineState, seq: int, event_type: str, user_id: str, items: list[str],
             value: float | None, ts: float, context: dict[str, Any] | None) -> None:
        """Record an event about to be folded."""
        users = self.users
        entries = users.get(user_id, False)
        if entries is None:
            return  # past probation
        if entries is False:
            user = state.users.get(user_id)
            if user is not None and user.event_count >= PROBATION:
                users[user_id] = None
                return
            if len(users) >= MAX_LEDGER_USERS:
                for key in list(users)[: MAX_LEDGER_USERS // 4]:
                    del users[key]
            entries = users[user_id] = []
        if len(entries) >= PROBATION:
            users[user_id] = None
            return
        entries.append((seq, event_type, items, value, ts, context))

    def take(self, state: OnlineState, user_id: str) -> list[Entry]:
        """What the user's recorded events added, forgotten here (they are about to be unfolded)."""
        raw = self.users.pop(user_id, None) or []
        records: list[tuple[float, int]] = []  # the user's remembered events, in time order
        out = []
        add = state.index.add
        for seq, event_type, items, value, ts, context in raw:
            weight = interest_weight(event_type, value)
            if weight <= 0 or event_type == "impression" or not items:
                continue
            positions = [add(item_id) for item_id in items]
            partners: list[list[int]] = []
            for pos in positions:
                found: list[int] = []
                for r_ts, r_pos in reversed(records[-COVISIT_RECENT:]):
                    if ts - r_ts > COVISIT_WINDOW_S:
                        break
                    if r_pos != pos and r_pos not in found:
                        found.append(r_pos)
                partners.append(found)
                insort(records, (ts, pos))  # after every record at or before its time, as remember() does
            out.append(Entry(seq, event_type, items[0], ts, weight, positions, partners,
                             tuple(context_segments(context))))
        return out


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
