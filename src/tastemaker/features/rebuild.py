"""Rebuilding online state from the log, off the state's own thread, and swapping it in.

After retention deleted events from the middle of the log, the aggregates (decayed
popularity, trending, segment counters, co-visitation) and every user's recent lists and
sessions must equal a fold of what the log still holds. Un-counting a time cut exactly is
not possible the way an erasure un-counts one user (features.erasure): co-visitation pairs
an event's item with the user's *recent* items, so removing an old event changes which
later events paired with what, and sessions and recent lists depend on every event before.
A fold of the retained log is the one definition that holds, so we fold it again:

1. :func:`start` makes an empty state that shares the live item index (positions stay the
   same, so loaded models and cached arrays keep meaning the same items), the catalogue
   view and the set of users being erased; :func:`fold` replays the log into it, in a
   worker thread, up to a seq. Every item it meets is already in the index (the live state
   folded the same rows first), so the worker only reads the index; the event loop may
   still add new items meanwhile (a dict insert and a list append, atomic under the GIL).
2. The worker folds again what arrived meanwhile until little is left, then
   :func:`install` (on the state's own thread, between two batches) folds the last rows up
   to the live state's ``applied_seq`` and moves the new contents into the live object, so
   every holder of the state (recommender, eraser, processor) sees it at once.
"""

from __future__ import annotations

from typing import Callable

import msgspec

from tastemaker.features.state import OnlineState

_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_obj = msgspec.json.Decoder(dict).decode
CHUNK = 50_000

ReadRows = Callable[[int, int], list[tuple]]  # (after seq, limit) -> raw log rows in log order


def start(live: OnlineState) -> OnlineState:
    """An empty state over the live state's item index, catalogue view and erasing set."""
    fresh = OnlineState(live.config, index=live.index)
    fresh.catalog = live.catalog
    fresh.bind_features()
    fresh.erasing = live.erasing  # users being erased are skipped here exactly as in the live state
    return fresh


def fold(fresh: OnlineState, read_rows: ReadRows, upto: int, should_stop: Callable[[], bool] = lambda: False) -> int:
    """Apply the log's rows after ``fresh.applied_seq`` up to ``upto`` (inclusive); returns how many."""
    applied = 0
    while fresh.applied_seq < upto and not should_stop():
        rows = read_rows(fresh.applied_seq, CHUNK)
        if not rows:
            break
        for row in rows:
            if row[0] > upto:
                return applied
            fresh.apply_row(row, _decode_list, _decode_obj)
            applied += 1
    # the log may have no row at ``upto`` itself (the deleted latest): the fold is still complete
    fresh.applied_seq = max(fresh.applied_seq, upto)
    return applied


def install(live: OnlineState, fresh: OnlineState, read_rows: ReadRows) -> int:
    """On the state's own thread: fold the rows ``fresh`` lacks up to the live state's
    ``applied_seq``, then make ``live`` hold ``fresh``'s contents. Returns the rows folded here."""
    folded = fold(fresh, read_rows, live.applied_seq)
    fresh.catalog_version = live.catalog_version  # the catalogue view is shared; its version is live's
    fresh.version = live.version + 1  # caches keyed on the version must not match an older state's
    live.__dict__.update(fresh.__dict__)
    return folded
