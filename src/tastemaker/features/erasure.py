"""Taking one user out of online state: their own state, and exactly what their events
added to the shared aggregates (co-visitation, popularity, trending, segment popularity).

What a user's events add depends only on that user: popularity and trending add each
positive event's weight, and co-visitation pairs an item with the user's own recent items
(``UserState.partners``). So folding the user's events, in log order, into a scratch state
that shares the live item index reproduces their contribution exactly; subtracting it
leaves what a fold of the log without them would hold, up to float rounding (float64 for
the decayed counters, float32 for co-visitation; see features.covisitation_erase).
"""

from __future__ import annotations

from array import array
from itertools import repeat
from typing import Iterable

import msgspec
import numpy as np
import scipy.sparse as sp

from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState

_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_obj = msgspec.json.Decoder(dict).decode


class PairRecorder:
    """Stands in for the co-visitation index in the scratch fold: records pairs in float64."""

    def __init__(self) -> None:
        self.rows, self.cols, self.vals = array("q"), array("q"), array("d")

    def add(self, item: int, others: list[int], weight: float) -> None:
        if weight <= 0 or not others:
            return
        k = len(others)
        self.rows.extend(repeat(item, k))
        self.cols.extend(others)
        self.rows.extend(others)
        self.cols.extend(repeat(item, k))
        self.vals.extend(repeat(weight, 2 * k))

    def matrix(self, size: int) -> tuple[sp.csr_matrix, np.ndarray]:
        """The pairs as a summed ``size`` x ``size`` matrix, and its row sums."""
        rows, vals = np.frombuffer(self.rows, np.int64), np.frombuffer(self.vals, np.float64)
        counts = sp.csr_matrix((vals, (rows, np.frombuffer(self.cols, np.int64))), shape=(size, size))
        counts.sum_duplicates()
        return counts, np.bincount(rows, weights=vals, minlength=size)


def contribution(state: OnlineState, rows: Iterable[tuple]) -> OnlineState:
    """The user's events (raw log rows, in log order, all already applied to ``state``)
    folded into a scratch state on ``state``'s item index. Reads ``state``; changes nothing."""
    scratch = OnlineState(state.config, index=state.index)
    scratch.catalog = state.catalog  # affinities in the scratch are discarded; counts don't use them
    scratch.bind_features()
    scratch.covisitation = PairRecorder()  # type: ignore[assignment]
    for row in rows:
        scratch.apply_row(row, _decode_list, _decode_obj)
    return scratch


def uncount(state: OnlineState, scratch: OnlineState) -> None:
    """Subtract a :func:`contribution` from ``state``'s aggregates."""
    if scratch.popularity.t0 is not None:
        state.popularity.subtract(scratch.popularity)
        state.recent_popularity.subtract(scratch.recent_popularity)
    for name, counter in scratch.segments.items():
        live = state.segments.get(name)
        if live is not None and counter.t0 is not None:  # a segment past MAX_SEGMENTS was never counted
            live.subtract(counter)
    counts, sums = scratch.covisitation.matrix(len(state.index))  # type: ignore[attr-defined]
    if counts.nnz:
        state.covisitation.subtract(counts, sums)
    state.features.subtract(scratch.features)  # item and category windows
    state.version += 1


def forget_user(state: OnlineState, user_id: str) -> UserState | None:
    """Drop the user's own state at once (serving treats them as new from the next request);
    their later events are skipped until :func:`finish` (``OnlineState.erasing``). Returns
    the state dropped (for callers whose caches hold it), or None."""
    state.erasing.add(user_id)
    dropped = state.users.pop(user_id, None)
    state.customers.forget(user_id)
    state.features.forget_user(user_id)
    state.version += 1
    return dropped


def finish(state: OnlineState, user_id: str, scratch: OnlineState | None) -> None:
    """After the aggregates are un-counted and the log no longer holds the user: stop
    skipping their id, and give back the clock if their event was the latest."""
    state.erasing.discard(user_id)
    state.users.pop(user_id, None)
    state.customers.forget(user_id)
    state.features.forget_user(user_id)
    if scratch is not None and scratch.clock >= state.clock:
        state.clock = max((u.last_ts for u in state.users.values()), default=0.0)
    state.version += 1
