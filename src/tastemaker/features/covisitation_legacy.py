"""Older co-visitation snapshots brought up to the current layout on load.

A snapshot of :class:`~tastemaker.features.covisitation.CoVisitationIndex` is a dict of its
attributes. Older ones kept row sums of the latest writes apart (``_pending_sums``), the
latest increments as a dict of rows (``delta``), and float64 counts with ``base`` rows in
column order beside a full pre-cut copy (before layout 2). Whole-state snapshots of those
formats are refused by ``OnlineState.load`` (a replay rebuilds them); this keeps a pickled
index on its own loadable.
"""

from __future__ import annotations

from itertools import chain, repeat

import numpy as np

from tastemaker.features.covisitation_merge import COUNT_DTYPE, merged
from tastemaker.features.item_index import grown


def upgrade(state: dict, layout: int, cut_k: int) -> dict | None:
    """Convert ``state`` in place; returns an old ``delta`` ({item: {other: weight}}) still to
    be folded (its weights already in the row sums), or None."""
    delta = state.pop("delta", None)
    pending_sums = state.pop("_pending_sums", None)
    state.pop("delta_size", None)
    state.pop("_pruned_sorted", None)
    if state.get("_layout") != layout:  # float64 counts, base rows in column order, a full cut
        for name in ("recent", "fresh"):
            if name in state:
                state[name] = state[name].astype(COUNT_DTYPE)
        state["base"] = merged(state["base"], None, state["base"].shape[0], reorder=True)
        state["pruned"] = None  # cut again on open
        state["cut_k"], state["_layout"] = cut_k, layout
    if pending_sums:
        if isinstance(pending_sums, dict):  # {item: weight}
            keys = np.fromiter(pending_sums.keys(), np.int64, len(pending_sums))
            sums = np.fromiter(pending_sums.values(), np.float64, len(pending_sums))
        else:  # [(item, others, weight)]: each other gets weight, the item weight * len(others)
            keys = np.fromiter(chain.from_iterable([i, *o] for i, o, _ in pending_sums), np.int64)
            sums = np.fromiter(chain.from_iterable([w * len(o), *repeat(w, len(o))] for _, o, w in pending_sums),
                               np.float64)
        state["_row_sums"] = grown(state["_row_sums"], int(keys.max()) + 1)
        np.add.at(state["_row_sums"], keys, sums)
    return delta or None
