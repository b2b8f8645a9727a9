"""The two pure steps around the ring tables: what each event adds to each channel, and
how a definition's value follows from its channels' window sums.

>>> import numpy as np
>>> inc = channel_increments([("count", frozenset({"view"})), ("value", frozenset())],
...                          np.array(["view", "click"], dtype=object), {"value": np.array([2.0, np.nan])}, 2)
>>> inc.tolist()
[[1.0, 2.0], [0.0, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.registry import Channel, Slot
from tastemaker.features.windows import Geometry


def type_mask(types: np.ndarray, wanted: frozenset[str], codes: dict[str, int] | None = None) -> np.ndarray:
    """Which events are of the ``wanted`` types (all when empty); ``types`` are names, or
    their ``codes`` (then one gather through a lookup table instead of ``np.isin``'s sort)."""
    if not wanted:
        return np.ones(len(types), dtype=bool)
    if codes is None:
        return np.isin(types, list(wanted))
    table = np.zeros(len(codes) + 1, dtype=bool)
    table[[codes[t] for t in wanted if t in codes]] = True
    return table[types]


def channel_increments(channels: Sequence[Channel], types: np.ndarray, columns: dict[str, np.ndarray],
                       n: int, codes: dict[str, int] | None = None,
                       masks: dict[frozenset[str], np.ndarray] | None = None) -> np.ndarray:
    """(n, channels): what each of ``n`` events adds to each channel. A channel counts events
    of its types (all when empty) and adds 1 (``count``), the value field (0 when absent) or
    whether the event carries it (``has:<field>``). ``types`` are names, or their ``codes``;
    ``masks`` caches the type masks across calls on the same events."""
    out = np.zeros((n, len(channels)))
    masks = {} if masks is None else masks
    for c, (spec, wanted) in enumerate(channels):
        mask = masks.get(wanted)
        if mask is None:
            mask = masks[wanted] = type_mask(types, wanted, codes)
        if spec == "count":
            out[:, c] = mask
        elif spec.startswith("has:"):
            out[:, c] = mask & ~np.isnan(columns[spec[4:]])
        else:
            column = columns[spec]
            out[:, c] = np.where(mask & ~np.isnan(column), column, 0.0)
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), math.nan)


def derive(d: FeatureDefinition, reads: tuple[Slot | int, ...], sums: dict[Geometry, np.ndarray],
           last: np.ndarray, now: float) -> np.ndarray:
    """One definition's values over the rows whose window sums are ``sums`` (per geometry,
    rows x channels) and latest event times ``last`` (rows x kept type sets)."""
    if d.aggregation == "since_last":
        t = last[:, reads[0]]
        return np.where(np.isfinite(t), np.maximum(now - t, 0.0), math.nan)
    cols = [sums[g][:, c] for g, c in reads]  # type: ignore[misc]
    agg = d.aggregation
    if agg in ("count", "sum"):
        return cols[0]
    if agg == "rate":
        return cols[0] / (float(d.window_s) / 60.0)
    if agg == "mean":
        return _ratio(cols[0], cols[1])
    if agg == "ratio":
        return _ratio(cols[0], cols[1])
    if agg == "mean_ratio":
        return _ratio(_ratio(cols[0], cols[1]), _ratio(cols[2], cols[3]))
    # trend: Poisson z of the short window against the long window's rate scaled to it
    short, long = cols
    expected = long * (float(d.window_s) / float(d.long_window_s))
    z = (short - expected) / np.sqrt(expected + 1.0)
    return np.where(short >= d.min_count, z, 0.0)
