"""rules.engine: rule combinations, conflicts, schedules, and the trace explanations read."""

from __future__ import annotations

import numpy as np

from tastemaker.rules.boosts import Boost
from tastemaker.rules.caps import Cap
from tastemaker.rules.engine import RuleSet, RuleTrace
from tastemaker.rules.expressions import compile_expression
from tastemaker.rules.filters import CategoryFilter, InStock, NotPurchased, PriceRange
from tastemaker.rules.margin import MarginBlend
from tastemaker.rules.pins import Pin
from tastemaker.rules.schedule import Schedule
from tests.rules.conftest import NOW, cands_for, env_for, names


def run(catalog, rules, ids="abcdefgh", n=8, scores=None, trace=None, user=None, now=NOW):
    cands = cands_for(catalog, ids, scores)
    env = env_for(catalog, ids, user=user)
    env.now = now
    out = rules.apply(cands, env, n, trace)
    return names(catalog, out.items), out


def test_empty_rule_set_keeps_score_order(catalog):
    got, out = run(catalog, RuleSet(), n=5)
    assert got == "abcde" and not RuleSet()


def test_filters_combine(catalog, user):
    rules = RuleSet(filters=(InStock(), PriceRange(max=30), NotPurchased()))
    assert run(catalog, rules, user=user)[0] == "ceh"


def test_boosts_and_buries_multiply(catalog):
    rules = RuleSet(boosts=(Boost("acme", compile_expression('brand == "Acme"'), 3.0),
                            Boost("old", compile_expression("age > 30d"), 0.5),
                            Boost("acme-again", compile_expression('"sale" in tags'), 2.0)))
    got, out = run(catalog, rules, scores=[1, 1, 1, 1, 1, 1, 1, 1])
    # a: 3*2, b: 3, h: 3, e: 2, then the rest at 1 by item index, c and d at 0.5
    assert got == "abhefgcd"
    assert out.scores.tolist() == [6.0, 3.0, 3.0, 2.0, 1.0, 1.0, 0.5, 0.5]


def test_pin_moves_and_inserts(catalog):
    trace = RuleTrace()
    got, _ = run(catalog, RuleSet(pins=(Pin("h", 1), Pin("zzz", 2))), ids="abc", n=3, trace=trace)
    assert got == "hab"  # h was not a candidate: pins bring their item; unknown ids are ignored
    assert trace.for_item(catalog.index.get("h")) == [{"rule": "pin:h@1", "effect": "pinned at position 1"}]


def test_conflict_pinned_item_excluded_by_a_filter_is_not_shown(catalog):
    """Documented outcome: filters win over pins, and the trace says so."""
    trace = RuleTrace()
    rules = RuleSet(filters=(InStock(),), pins=(Pin("a", 1),))  # a is out of stock
    got, _ = run(catalog, rules, n=3, trace=trace)
    assert got == "bcd"
    assert {"item": catalog.index.get("a"), "rule": "pin:a@1", "effect": "pin dropped: excluded by in_stock"} in trace.dropped
    # also when the pinned item was not a candidate at all
    trace = RuleTrace()
    got, _ = run(catalog, RuleSet(filters=(CategoryFilter(include=frozenset({"hats"})),), pins=(Pin("a", 1),)),
                 ids="cd", trace=trace)
    assert got == "cd" and trace.dropped[0]["effect"] == "pin dropped: excluded by category"


def test_conflict_pins_win_over_caps(catalog):
    rules = RuleSet(caps=(Cap("brand", 1),), pins=(Pin("b", 2),))
    got, _ = run(catalog, rules, ids="abcdh", n=4)
    # a (Acme) first; b is pinned at 2 although Acme is at its cap; h (Acme) is moved below c, d
    assert got == "abcd"


def test_caps_demote_or_drop(catalog):
    trace = RuleTrace()
    got, _ = run(catalog, RuleSet(caps=(Cap("brand", 1),)), ids="abhcde", n=6, trace=trace)
    assert got == "acebhd"  # one per brand first, then the rest in order
    assert trace.for_item(catalog.index.get("b")) == [
        {"rule": "cap:brand<=1", "effect": "moved down: more than 1 of brand 'Acme'"}]
    got, _ = run(catalog, RuleSet(caps=(Cap("brand", 1, strict=True),)), ids="abhcde", n=6)
    assert got == "ace"
    got, _ = run(catalog, RuleSet(caps=(Cap("category", 2),)), ids="abfcd", n=5)
    assert got == "abcdf"  # a, b, f are shoes first


def test_margin_ordering(catalog):
    scores = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65]
    assert run(catalog, RuleSet(margin=MarginBlend(0.0)), scores=scores)[0] == "abcdefgh"
    trace = RuleTrace()
    got, _ = run(catalog, RuleSet(margin=MarginBlend(0.9)), scores=scores, trace=trace)
    assert got[:2] == "gb"  # highest margins
    moves = trace.for_item(catalog.index.get("g"))
    assert moves == [{"rule": "margin", "effect": "margin-aware order (weight 0.9): rank 7 -> 1"}]


def test_schedules_switch_rules_on_and_off(catalog):
    promo = Schedule(NOW, NOW + 3600)
    rules = RuleSet(boosts=(Boost("promo", compile_expression('id == "h"'), 100.0, schedule=promo),),
                    pins=(Pin("g", 1, schedule=promo),))
    assert run(catalog, rules, n=3, now=NOW - 1)[0] == "abc"
    assert run(catalog, rules, n=3, now=NOW)[0] == "gha"
    assert run(catalog, rules, n=3, now=NOW + 3599)[0] == "gha"
    assert run(catalog, rules, n=3, now=NOW + 3600)[0] == "abc"
    assert rules.active(NOW + 3600).boosts == () and len(rules.active(NOW).pins) == 1


def test_trace_records_every_move_for_explanations(catalog):
    trace = RuleTrace()
    rules = RuleSet(filters=(InStock(),),
                    boosts=(Boost("eco", compile_expression("properties.rating >= 3"), 2.0),
                            Boost("bury-bolt", compile_expression('brand == "Bolt"'), 0.5)),
                    pins=(Pin("h", 1, name="summer-pin"),))
    got, _ = run(catalog, rules, n=4, trace=trace)
    assert got == "hbec"
    b, c, h = (catalog.index.get(i) for i in "bch")
    assert trace.for_item(b) == [{"rule": "eco", "effect": "boosted: score x2"}]
    assert trace.for_item(c) == [{"rule": "bury-bolt", "effect": "buried: score x0.5"}]
    assert trace.for_item(h) == [{"rule": "summer-pin", "effect": "pinned at position 1"}]
    assert {"item": catalog.index.get("a"), "rule": "in_stock", "effect": "filtered out"} in trace.dropped


def test_no_trace_no_bookkeeping_and_disable(catalog):
    rules = RuleSet(filters=(InStock(),), boosts=(Boost("x", None, 2.0),), margin=MarginBlend(0.5))
    off = rules.disable({"in_stock", "margin"})
    assert off.filters == () and off.margin is None and len(off.boosts) == 1
    assert run(catalog, off, n=2)[0] == "ab"


def test_score_then_arrange_keeps_env_aligned(catalog):
    rules = RuleSet(filters=(InStock(),), pins=(Pin("h", 1),))
    cands = cands_for(catalog, "abcd")
    out, env = rules.score(cands, env_for(catalog, "abcd"))
    assert names(catalog, out.items) == "bcdh" and np.array_equal(env.items, out.items)
    assert env.column("score").tolist() == out.scores.tolist()
    reversed_order = np.arange(len(out))[::-1]
    from tastemaker.candidates import Candidates
    rev = Candidates(out.items[reversed_order], out.scores[reversed_order], out.sources[reversed_order])
    final = rules.arrange(rev, env.subset(reversed_order), n=3)
    assert names(catalog, final.items) == "hdc"


def _arrange_reference(rules, ordered, env, n, trace):
    """The whole-list form of RuleSet.arrange: every cap over all rows, then the pins."""
    from tastemaker.rules.caps import over_cap
    from tastemaker.rules.pins import place_pins

    rows = np.arange(len(ordered))
    row_of = {item: r for r, item in enumerate(ordered.items.tolist())}
    pinned_rows, pin_names = [], {}
    for p in rules.pins:
        pos = env.catalog.index.get(p.item_id)
        if pos is not None and pos in row_of and row_of[pos] not in pin_names:
            pinned_rows.append((row_of[pos], p.position))
            pin_names[row_of[pos]] = p.name
    pinned = np.zeros(len(ordered), dtype=bool)
    pinned[list(pin_names)] = True
    for cap in rules.caps:
        if len(rows) <= cap.max_items:
            continue
        over = over_cap(env.group_codes(cap.kind)[rows], cap.max_items) & ~pinned[rows]
        labels = env.group_labels(cap.kind)[rows]
        for k in np.flatnonzero(over[:n]).tolist():
            effect = "removed" if cap.strict else "moved down"
            trace.add(int(ordered.items[rows[k]]), cap.name, f"{effect}: more than {cap.max_items} of {cap.kind} {labels[k]!r}")
        rows = rows[~over] if cap.strict else np.concatenate([rows[~over], rows[over]])
    placed = place_pins(rows.tolist(), pinned_rows)
    for k, r in enumerate(placed[:n]):
        if r in pin_names:
            trace.add(int(ordered.items[r]), pin_names[r], f"pinned at position {k + 1}")
    return ordered.items[np.asarray(placed[:n], np.int64)]


def test_lazy_caps_and_pins_agree_with_whole_list_passes():
    """arrange (and arrange_order) pull the capped list only up to n; the result and the trace
    are those of capping the whole list, then placing the pins."""
    from tastemaker.features.catalog import CatalogView
    from tastemaker.features.item_index import ItemIndex
    from tastemaker.rules.env import RuleEnv
    from tastemaker.schema.records import Item
    from tastemaker.candidates import Candidates

    rng = np.random.default_rng(7)
    cat = CatalogView(ItemIndex())
    for i in range(60):
        brand = None if rng.random() < 0.15 else f"b{rng.integers(4)}"
        cat.upsert(Item(id=f"i{i}", brand=brand, categories=[] if rng.random() < 0.1 else [f"c{rng.integers(3)}"]))
    for _ in range(300):
        m = int(rng.integers(0, 40))
        items = rng.choice(60, m, replace=False).astype(np.int64)
        caps = tuple(Cap(str(rng.choice(["brand", "category"])), int(rng.integers(1, 4)), strict=bool(rng.random() < 0.3))
                     for _ in range(int(rng.integers(0, 3))))
        pins = tuple(Pin(f"i{rng.integers(60)}", int(rng.integers(1, 8))) for _ in range(int(rng.integers(0, 3))))
        rules = RuleSet(caps=caps, pins=pins)
        n = int(rng.integers(1, 12))
        cands = Candidates(items, rng.random(m), np.full(m, "x", dtype=object))
        env = RuleEnv(cat, items, 0.0)
        order = rng.permutation(m)
        ordered = Candidates(items[order], cands.scores[order], cands.sources[order])
        want_trace, got_trace, order_trace = RuleTrace(), RuleTrace(), RuleTrace()
        want = _arrange_reference(rules, ordered, env.subset(order), n, want_trace)
        got = rules.arrange(ordered, env.subset(order), n, got_trace)
        top, rows = rules.arrange_order(cands, env, order, n, order_trace)
        assert got.items.tolist() == want.tolist() == top.items.tolist() == items[rows].tolist()
        assert got_trace.moves == want_trace.moves == order_trace.moves
