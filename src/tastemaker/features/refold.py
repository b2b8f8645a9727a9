"""Refolding the streaming features after their definitions changed.

A new definition needs the events of its windows, which only the log still has: the feature
store is rebuilt from the whole log (the rest of the online state is untouched) and swapped
in. Cost: one pass over the log (about 3 us per event for the 21 built-ins on the
development box, see bench/feature_windows.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.point_in_time import note_row
from tastemaker.features.state import OnlineState
from tastemaker.features.stream import FeatureStore

CHUNK = 50_000


def refold(state: OnlineState, read_rows: Callable[[int, int], list[tuple]],
           definitions: Sequence[FeatureDefinition]) -> FeatureStore:
    """Fold the log (up to ``state.applied_seq``) into a store of ``definitions`` and make it
    ``state.features``; users being erased are skipped as in ``OnlineState.apply``."""
    store = FeatureStore(definitions)
    store.index, store.catalog = state.index, state.catalog
    seq, upto = 0, state.applied_seq
    while seq < upto:
        rows = read_rows(seq, CHUNK)
        if not rows:
            break
        for row in rows:
            if row[0] > upto:
                break
            if not (state.erasing and row[2] in state.erasing):
                note_row(store, state.index, row)
        seq = rows[-1][0]
    store.fold()
    state.config = replace(state.config, features=tuple(definitions))
    state.features = store
    state.version += 1
    return store


def ensure_definitions(state: OnlineState, read_rows: Callable[[int, int], list[tuple]],
                       definitions: Sequence[FeatureDefinition]) -> bool:
    """Refold when ``state`` (e.g. from a snapshot) folds other definitions; True if it did."""
    if tuple(state.features.definitions) == tuple(definitions):
        return False
    refold(state, read_rows, definitions)
    return True
