"""features.segments: lifecycle stages (recency/tenure thresholds) and behaviour segments."""

from __future__ import annotations

import doctest

import pytest

from tastemaker.features import segments
from tastemaker.features.customers import CustomerLedger
from tastemaker.features.segments import (DAY_S, LifecycleThresholds, behaviour_segments, builtin_segments,
                                          lifecycle_stage)
from tastemaker.features.user_state import UserState

T0 = 1_700_000_000.0


def customer(*days: float):
    ledger = CustomerLedger()
    for d in days:
        ledger.observe("u", "view", None, T0 + d * DAY_S)
    return ledger.get("u")


def user(events: int, purchased: set[int] | None = None, **type_counts: int) -> UserState:
    u = UserState()
    u.event_count = events
    u.purchased = purchased or set()
    u.type_counts = dict(type_counts)
    return u


def test_doctest():
    assert doctest.testmod(segments).failed == 0


@pytest.mark.parametrize("days, now, stage", [
    ((0,), 0, "new"),
    ((0,), 7, "new"),               # 7 days: the boundaries are inclusive
    ((0,), 7.01, "at_risk"),
    ((0,), 30, "at_risk"),
    ((0,), 30.01, "churned"),
    ((0, 10), 12, "active"),        # older than a week, seen two days ago
    ((0, 20), 22, "active"),        # away 20 days: not long enough to be a return
    ((0, 31), 33, "reactivated"),   # away 31 days, back two days ago
    ((0, 31), 31 + 14, "active"),   # ... and 14 days on: active again, if still seen (below)
    ((0, 31), 31 + 8, "at_risk"),
])
def test_lifecycle_stage_thresholds(days, now, stage):
    c = customer(*days)
    if stage == "active" and days == (0, 31):
        c = customer(0, 31, 44)
        assert lifecycle_stage(c, T0 + 45.01 * DAY_S) == "active"  # 14.01 days after the return
        return
    assert lifecycle_stage(c, T0 + now * DAY_S) == stage


def test_unknown_user_has_no_stage_and_thresholds_are_checked():
    assert lifecycle_stage(None, T0) is None
    assert lifecycle_stage(customer(0), T0 + 3 * DAY_S, LifecycleThresholds(new_within_s=DAY_S)) == "active"
    with pytest.raises(ValueError):
        LifecycleThresholds(active_within_s=40 * DAY_S)


@pytest.mark.parametrize("u, expected", [
    (user(4), []),
    (user(50), ["engaged"]),
    (user(20, purchased={3}, purchase=1), ["buyer"]),
    (user(20, add_to_cart=2), ["cart_abandoner"]),
    (user(20, purchased={3}, add_to_cart=2, purchase=1), ["buyer"]),
])
def test_behaviour_segments(u: UserState, expected: list[str]):
    assert behaviour_segments(u) == expected


def test_builtin_segments_put_the_stage_first():
    assert builtin_segments(user(50), customer(0), T0) == ["new", "engaged"]
    assert builtin_segments(None, None, T0) == []
