"""What events add to channels, and how definitions follow from window sums."""

from __future__ import annotations

import math

import numpy as np

from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.stream_values import channel_increments, derive
from tastemaker.features.windows import Geometry

G = Geometry(3600.0, 12)


def test_increments_mask_types_and_missing_values():
    channels = [("count", frozenset()), ("has:context.dwell_ms", frozenset({"view"})),
                ("context.dwell_ms", frozenset({"view"}))]
    types = np.array(["view", "view", "click"], dtype=object)
    inc = channel_increments(channels, types, {"context.dwell_ms": np.array([5.0, np.nan, 7.0])}, 3)
    assert inc.tolist() == [[1.0, 1.0, 5.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]


def test_ratio_is_nan_over_nothing_and_trend_respects_its_floor():
    sums = {G: np.array([[2.0, 0.0], [3.0, 6.0]])}
    ratio = FeatureDefinition("r", "user", "ratio", 3600.0, denominator_types=frozenset({"view"}))
    out = derive(ratio, ((G, 0), (G, 1)), sums, np.zeros((2, 0)), 0.0)
    assert math.isnan(out[0]) and out[1] == 0.5
    long = Geometry(86_400.0, 24)
    trend = FeatureDefinition("t", "item", "trend", 3600.0, long_window_s=86_400.0, min_count=5)
    z = derive(trend, ((G, 0), (long, 0)), {G: np.array([[4.0], [30.0]]), long: np.array([[4.0], [48.0]])},
               np.zeros((2, 0)), 0.0)
    assert z[0] == 0.0 and z[1] == (30.0 - 2.0) / math.sqrt(3.0)


def test_since_last_is_nan_before_any_event_and_never_negative():
    d = FeatureDefinition("s", "user", "since_last", None)
    out = derive(d, (0,), {}, np.array([[-math.inf], [100.0], [200.0]]), 150.0)
    assert math.isnan(out[0]) and out[1] == 50.0 and out[2] == 0.0
