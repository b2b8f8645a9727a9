"""features.shilling: a burst of young users on one item, measured against its own baseline."""

from __future__ import annotations

from tastemaker.features.shilling import HOLD_S, MIN_BURST, WINDOW_S, ShillingDetector


def test_a_burst_of_young_users_is_an_attack_for_a_while():
    d = ShillingDetector()
    for k in range(MIN_BURST - 1):
        assert d.observe("t", f"u{k}", 1000.0 + k * 30, k) is None
    burst = d.observe("t", "last", 1000.0 + MIN_BURST * 30, 100)
    assert burst is not None and len(burst) == MIN_BURST and (100, "last") in burst
    assert d.attacked("t", 2000.0) and not d.attacked("t", 1000.0 + MIN_BURST * 30 + HOLD_S)
    assert not d.attacked("other", 2000.0) and d.bursts == 1


def test_the_same_users_again_or_a_spread_out_trickle_is_no_burst():
    d = ShillingDetector()
    for k in range(3 * MIN_BURST):  # few users, many events
        assert d.observe("t", f"u{k % 3}", 1000.0 + k, k) is None
    for k in range(3 * MIN_BURST):  # many users, each window holds fewer than MIN_BURST
        assert d.observe("slow", f"v{k}", k * WINDOW_S / (MIN_BURST - 2), k) is None


def test_an_item_that_always_draws_new_users_needs_more_for_a_burst():
    d = ShillingDetector()
    one_a_minute = lambda: 1 / 60.0
    for k in range(MIN_BURST * 3):  # a steady new user a minute: 15 per window is its normal
        assert d.observe("hit", f"steady{k}", k * 60.0, k, one_a_minute) is None
    assert not d.attacked("hit", MIN_BURST * 3 * 60.0)
