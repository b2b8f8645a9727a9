"""Bucketed ring counters: sliding-window sums per entity, exact at bucket resolution.

A window of ``W`` seconds is cut into ``B`` buckets of ``b = W / B`` seconds; an event at
time ``t`` falls in bucket ``k = floor(t / b)``. Each entity (a dense row: user, item or
category code) has ``B`` slots; bucket ``k`` lives in slot ``k % B`` together with its
*stamp* ``k``. The value of the window at time ``now`` is the sum of the slots whose stamp
is in ``(floor(now / b) - B, floor(now / b)]``: every event whose bucket is one of the
``B`` latest, whatever order the events came in.

Late events (timestamps older than ones already counted): an event whose slot holds its
own bucket, or an older one (reset first), is counted; an event whose slot already holds a
*newer* bucket is at least a whole window older than that entity's newest event, so it is
outside every window read at or after that event, and it is dropped and counted in
``late_dropped`` (counted per fold: an event whose slot holds a newer bucket once its batch
is folded, so a late event and the newer one in the same batch count as well). Hence, read at any ``now`` not earlier than an entity's newest event, a
window equals a brute-force sum over the events in it, in any arrival order (see the tests).

Updates arrive in batches and are folded with numpy (one ``np.unique`` and ``np.add.at``
per batch), so a table costs O(1) amortised per event and 4 bytes per entity, slot and
channel plus a 4-byte stamp per slot.

>>> table = RingTable(Geometry(60.0, 6), channels=1)
>>> table.fold(np.array([0, 0, 1]), np.array([5.0, 55.0, 70.0]), np.ones((3, 1)))
>>> float(table.window_sums(np.array([0]), 59.0)[0, 0]), float(table.window_sums(np.array([0]), 65.0)[0, 0])
(2.0, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EMPTY = -(2**30)  # the stamp of a slot that never held a bucket (fits the int32 stamps)
VALUE_DTYPE = np.float32  # counts exact to 2**24 per bucket, sums to 7 significant digits: half the memory


@dataclass(frozen=True, order=True)
class Geometry:
    """A sliding window of ``window_s`` seconds in ``buckets`` buckets."""

    window_s: float
    buckets: int

    @property
    def width(self) -> float:
        return self.window_s / self.buckets

    def bucket(self, ts: np.ndarray | float) -> np.ndarray:
        """The bucket index of each time (floor of time over bucket width)."""
        return np.floor(np.asarray(ts, dtype=np.float64) / self.width).astype(np.int64)


def default_buckets(window_s: float) -> int:
    """Buckets for a window: 24 for a day or more (hourly), else 12 (1 min: 5 s buckets)."""
    return 24 if window_s >= 86_400.0 else 12


class RingTable:
    """Per-entity rings of ``channels`` float32 sums over one :class:`Geometry`; stamps are
    int32 for buckets of a second or more (bucket numbers of epoch times fit until 2038), else int64."""

    def __init__(self, geometry: Geometry, channels: int):
        self.geometry = geometry
        self.channels = channels
        self.stamp_dtype = np.int32 if geometry.width >= 1.0 else np.int64
        self.values = np.zeros((0, geometry.buckets, channels), dtype=VALUE_DTYPE)
        self.stamps = np.full((0, geometry.buckets), EMPTY, dtype=self.stamp_dtype)
        self.late_dropped = 0

    def __len__(self) -> int:
        return len(self.stamps)

    def reserve(self, rows: int) -> None:
        """Make room for rows ``0..rows-1`` (growing by doubling)."""
        have = len(self.stamps)
        if rows <= have:
            return
        size = max(rows, 2 * have, 64)
        values = np.zeros((size, self.geometry.buckets, self.channels), dtype=VALUE_DTYPE)
        stamps = np.full((size, self.geometry.buckets), EMPTY, dtype=self.stamp_dtype)
        values[:have], stamps[:have] = self.values, self.stamps
        self.values, self.stamps = values, stamps

    def fold(self, rows: np.ndarray, ts: np.ndarray, increments: np.ndarray) -> None:
        """Add ``increments[i]`` (one per channel) at time ``ts[i]`` to entity ``rows[i]``.

        The result does not depend on the order of the events (see the module docstring)."""
        if not len(rows):
            return
        self.reserve(int(rows.max()) + 1)
        b = self.geometry.buckets
        k = self.geometry.bucket(ts)
        key = rows.astype(np.int64) * b + k % b
        # group the events by slot with one stable sort (ufunc.at is several times slower)
        order = np.argsort(key, kind="stable")
        key, k = key[order], k[order]
        first = np.empty(len(key), dtype=bool)
        first[0] = True
        np.not_equal(key[1:], key[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        slots = key[starts]
        stamps = self.stamps.reshape(-1)
        values = self.values.reshape(-1, self.channels)
        old = stamps[slots]
        final = np.maximum(old, np.maximum.reduceat(k, starts))
        values[slots[final > old]] = 0.0  # the slot moves on to a newer bucket
        keep = k == np.repeat(final, np.diff(np.append(starts, len(key))))
        self.late_dropped += int(np.count_nonzero(~keep))  # a newer bucket holds the slot after this fold
        if keep.any():
            kept = key[keep]
            heads = np.flatnonzero(np.concatenate(([True], kept[1:] != kept[:-1])))
            # summed per slot in float64, in arrival order, then added to the float32 slot
            values[kept[heads]] += np.add.reduceat(increments[order[keep]], heads, axis=0)
        stamps[slots] = final

    def live_mask(self, rows: np.ndarray | slice, now: float) -> np.ndarray:
        """(rows, buckets) bool: which slots are inside the window ending at ``now``."""
        current = int(self.geometry.bucket(now))
        stamps = self.stamps[rows]
        return (stamps > current - self.geometry.buckets) & (stamps <= current)

    def window_sums(self, rows: np.ndarray, now: float) -> np.ndarray:
        """(len(rows), channels): each channel's sum over the window ending at ``now``;
        rows past the table (entities never folded here) read 0."""
        out = np.zeros((len(rows), self.channels))
        inside = rows < len(self.stamps)
        if inside.any():
            r = rows[inside]
            mask = self.live_mask(r, now)
            out[inside] = np.einsum("rbc,rb->rc", self.values[r], mask.astype(np.float64))
        return out

    def all_sums(self, now: float) -> np.ndarray:
        """(rows, channels): every entity's window sums at ``now``."""
        return np.einsum("rbc,rb->rc", self.values, self.live_mask(slice(None), now).astype(np.float64))

    def clear_row(self, row: int) -> None:
        """Forget one entity (erasure)."""
        if row < len(self.stamps):
            self.values[row] = 0.0
            self.stamps[row] = EMPTY

    def subtract(self, other: RingTable, row_map: np.ndarray) -> None:
        """Take away what ``other`` counted (the same events, folded into both): ``other``'s
        row ``i`` is this table's row ``row_map[i]`` (-1: none). Slots this table has moved on
        from (a newer bucket) no longer hold those events and are left alone."""
        n = min(len(other), len(row_map))
        src = np.flatnonzero(row_map[:n] >= 0)
        if not len(src):
            return
        dst = row_map[src]
        self.reserve(int(dst.max()) + 1)
        same = (self.stamps[dst] == other.stamps[src]) & (other.stamps[src] != EMPTY)
        values = self.values[dst]
        values[same] -= other.values[src][same]
        values[np.abs(values) < 1e-9] = 0.0  # rounding of sums that cancel exactly
        self.values[dst] = values

    def nbytes(self) -> int:
        return self.values.nbytes + self.stamps.nbytes
