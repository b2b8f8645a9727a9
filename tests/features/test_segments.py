"""features.segments: lifecycle segments from the live user state."""

from __future__ import annotations

import doctest

import pytest

from tastemaker.features import segments
from tastemaker.features.segments import ACTIVE_WITHIN_S, lifecycle_segments
from tastemaker.features.user_state import UserState

NOW = 1_700_000_000.0


def user(events: int, last_ts: float = NOW, purchased: set[int] | None = None, **type_counts: int) -> UserState:
    u = UserState()
    u.event_count, u.last_ts = events, last_ts
    u.purchased = purchased or set()
    u.type_counts = dict(type_counts)
    return u


def test_doctest():
    assert doctest.testmod(segments).failed == 0


@pytest.mark.parametrize("u, expected", [
    (user(0), ["new", "active"]),
    (user(4), ["new", "active"]),
    (user(5), ["active"]),
    (user(50), ["engaged", "active"]),
    (user(20, purchased={3}, purchase=1), ["buyer", "active"]),
    (user(20, add_to_cart=2), ["cart_abandoner", "active"]),
    (user(20, purchased={3}, add_to_cart=2, purchase=1), ["buyer", "active"]),
    (user(20, last_ts=NOW - ACTIVE_WITHIN_S), ["active"]),
    (user(20, last_ts=NOW - ACTIVE_WITHIN_S - 1), ["lapsed"]),
])
def test_lifecycle_segments(u: UserState, expected: list[str]):
    assert lifecycle_segments(u, NOW) == expected
