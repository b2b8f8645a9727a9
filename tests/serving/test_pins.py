"""serving.pins: a pinned item passes what the sources' candidates pass."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.serving.filters import allowed
from tastemaker.serving.pins import pin_allowed, screen_pins
from tastemaker.rules.engine import RuleTrace


@pytest.mark.parametrize("placement", ["home", "email"])
@pytest.mark.parametrize("kw", [{}, {"include_purchased": True}, {"exclude": frozenset({"x3"}), "category": "red"}])
def test_the_one_item_pin_check_agrees_with_the_filters(shop, placement, kw):
    shop.event("purchase", "u", "x4")
    shop.event("view", "u", "x5")
    shop.event("dislike", "u", "x6")
    ctx = shop.ctx("u", placement=placement, **kw)
    p = shop.recommender.placement(placement)
    items = np.arange(12, dtype=np.int64)
    expected = allowed(ctx, p, items, True).tolist()
    assert [pin_allowed(ctx, p, int(i), True) for i in items] == expected


def test_screen_pins_drops_only_the_excluded_pins_and_traces_them(shop):
    shop.event("purchase", "u", "x4")
    placement = shop.recommender.placements.put("home", {"sources": {"popular": 1.0}, "rules": [
        {"pin": "x4", "position": 1}, {"pin": "x2", "position": 2}, {"pin": "nowhere", "position": 3}]})
    ctx, trace = shop.ctx("u"), RuleTrace()
    screened = screen_pins(ctx, placement, placement.rules, np.array([shop.pos("x0")]), shop.ts, trace, True)
    assert [p.item_id for p in screened.pins] == ["x2", "nowhere"]  # purchased x4 goes; an unknown id adds nothing
    assert [(d["item"], d["rule"]) for d in trace.dropped] == [(shop.pos("x4"), "pin:x4@1")]
    assert screen_pins(ctx, placement, placement.rules, np.array([shop.pos("x4")]), shop.ts, None, True) is placement.rules
