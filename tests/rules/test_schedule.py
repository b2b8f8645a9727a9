"""rules.schedule: half-open windows, open ends, ISO and epoch bounds."""

from __future__ import annotations

import math

import pytest

from tastemaker.rules.schedule import ALWAYS, Schedule


def test_boundaries_are_half_open():
    s = Schedule(100.0, 200.0)
    assert not s.active(99.999)
    assert s.active(100.0)
    assert s.active(199.999)
    assert not s.active(200.0)


def test_back_to_back_campaigns_never_overlap_or_gap():
    a = Schedule.parse("2024-11-29T00:00:00Z", "2024-12-02T00:00:00Z")
    b = Schedule.parse("2024-12-02T00:00:00Z", "2024-12-25T00:00:00Z")
    edge = a.end
    assert [a.active(edge), b.active(edge)] == [False, True]
    assert [a.active(edge - 1e-6), b.active(edge - 1e-6)] == [True, False]


def test_open_ends_and_parsing():
    assert ALWAYS.always and ALWAYS.active(-1e18) and ALWAYS.active(1e18)
    s = Schedule.parse(start="2024-01-01T00:00:00+01:00")
    assert s.start == 1704063600.0 and s.end == math.inf and not s.always
    assert Schedule.parse(end=50).active(49) and not Schedule.parse(end=50).active(50)
    with pytest.raises(ValueError, match="ISO 8601"):
        Schedule.parse("next tuesday")
    with pytest.raises(ValueError, match="end after it starts"):
        Schedule(10.0, 10.0)
