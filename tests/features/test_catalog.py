"""features.catalog: the in-memory catalog view used by filters."""

from __future__ import annotations

import math

import pytest

from tastemaker.features.catalog import CatalogView
from tastemaker.features.item_index import ItemIndex
from tastemaker.schema.records import Item


@pytest.fixture
def view() -> CatalogView:
    return CatalogView(ItemIndex())


def pos(view: CatalogView, item_id: str) -> int:
    return view.index.get(item_id)


def test_stock_decides_availability(view):
    view.upsert(Item(id="none", stock=0))
    view.upsert(Item(id="some", stock=3))
    view.upsert(Item(id="untracked"))
    assert [bool(view.available[pos(view, i)]) for i in ("none", "some", "untracked")] == [False, True, True]
    assert all(view.known[pos(view, i)] for i in ("none", "some", "untracked"))
    assert view.size() == 3


def test_upsert_fills_attributes(view):
    p = view.upsert(Item(id="a", title="Alpha", categories=["x", "y", "x"], brand="B", price=9.5, created_at=100.0))
    assert p == 0
    assert view.categories[p] == ("x", "y")
    assert view.category_members == {"x": {p}, "y": {p}}
    assert view.brand_members == {"B": {p}} and view.brands[p] == "B"
    assert view.titles[p] == "Alpha"
    assert view.price[p] == 9.5 and view.created_at[p] == 100.0
    q = view.upsert(Item(id="b"))
    assert math.isnan(view.price[q]) and math.isnan(view.created_at[q])


def test_re_upsert_replaces_memberships(view):
    view.upsert(Item(id="a", categories=["x"], brand="B", title="old", stock=0))
    p = view.upsert(Item(id="a", categories=["y"], stock=1))
    assert view.category_members["x"] == set() and view.category_members["y"] == {p}
    assert view.brand_members["B"] == set() and p not in view.brands
    assert p not in view.titles
    assert view.available[p]


def test_remove_forgets_the_item(view):
    view.upsert(Item(id="a", categories=["x"], brand="B"))
    view.upsert(Item(id="b", categories=["x"]))
    view.remove("a")
    p = pos(view, "a")
    assert not view.known[p] and not view.available[p]
    assert view.category_members["x"] == {pos(view, "b")}
    assert view.brand_members["B"] == set()
    assert view.size() == 1
    view.remove("never-seen")  # no error
    assert view.size() == 1


def test_items_known_only_from_events_are_not_in_the_catalog(view):
    view.index.add("from-an-event")
    p = view.upsert(Item(id="a"))
    assert p == 1
    assert not view.known[0] and view.known[1]
    view.remove("from-an-event")  # beyond nothing: still no error
    assert view.size() == 1


def test_rule_columns_margin_stock_tags_properties(view):
    p = view.upsert(Item(id="a", margin=0.25, stock=4, tags=["sale", "new", "sale"],
                         properties={"color": ["red", "blue"], "size": "M", "rating": 4.5, "eco": True, "meta": {"x": 1}}))
    assert view.margin[p] == 0.25 and view.stock[p] == 4.0 and view.tags[p] == ("sale", "new")
    assert view.tag_members == {"sale": {p}, "new": {p}}
    assert view.value_members[("color", "red")] == {p} and view.value_members[("size", "M")] == {p}
    assert view.numeric_properties["rating"][p] == 4.5 and view.numeric_properties["eco"][p] == 1.0
    q = view.upsert(Item(id="b"))
    assert math.isnan(view.margin[q]) and math.isnan(view.stock[q]) and math.isnan(view.numeric_properties["rating"][q])
    # a re-upsert replaces, a delete forgets
    view.upsert(Item(id="a", properties={"color": "green"}))
    assert view.tag_members["sale"] == set() and view.value_members[("color", "red")] == set()
    assert math.isnan(view.numeric_properties["rating"][p]) and math.isnan(view.margin[p])
    assert view.value_members[("color", "green")] == {p}
    view.remove("a")
    assert view.value_members[("color", "green")] == set()
    # new columns grow with the catalog
    for i in range(3000):
        view.upsert(Item(id=f"n{i}"))
    assert len(view.numeric_properties["rating"]) >= len(view.index) and len(view.margin) >= len(view.index)


def test_snapshots_from_before_the_rule_columns_still_load(view):
    import pickle

    view.upsert(Item(id="a", price=3.0))
    state = dict(view.__dict__)
    for name in ("margin", "stock", "tags", "tag_members", "numeric_properties", "value_members", "_item_properties"):
        state.pop(name)
    old = CatalogView.__new__(CatalogView)
    old.__dict__.update(state)  # what unpickling an old snapshot gives
    restored = pickle.loads(pickle.dumps(old))
    assert len(restored.margin) >= len(restored.known) and math.isnan(restored.margin[0])
    assert restored.tag_members == {} and restored.numeric_properties == {}
    p = restored.upsert(Item(id="b", margin=0.5, tags=["t"], properties={"k": 1}))
    assert restored.margin[p] == 0.5 and restored.tag_members == {"t": {p}} and restored.price[0] == 3.0


def _fresh_block(view: CatalogView):
    from tastemaker.features.catalog import RULE_COLUMNS

    width = len(view.known)
    floats = [getattr(view, name)[:width].astype(float) for name in RULE_COLUMNS]
    return floats, [view.brand_code[:width], view.category_code[:width]]


def _assert_block_current(view: CatalogView):
    import numpy as np

    floats, codes = view.rule_block()
    want_f, want_c = _fresh_block(view)
    assert floats.shape[1] == codes.shape[1] == len(view.known)
    for got, want in zip(floats, want_f):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(codes, want_c):
        np.testing.assert_array_equal(got, want)


def test_rule_block_is_patched_when_items_change(view):
    """The cached block of rule columns follows every upsert and removal (patched in place,
    or rebuilt when the catalog grows), and is not pickled with a snapshot."""
    import pickle

    for i in range(20):
        view.upsert(Item(id=f"i{i}", price=float(i), margin=0.1, stock=i % 3, brand="b" if i % 2 else None,
                         categories=["c"] if i % 3 else []))
    _assert_block_current(view)
    block = view.rule_block()[0]
    view.upsert(Item(id="i3", price=99.0, stock=0, brand="new"))  # re-upsert: every column changes
    view.remove("i4")
    assert view.rule_block()[0] is block  # patched, not rebuilt
    _assert_block_current(view)
    assert view.rule_block()[0][0, pos(view, "i3")] == 99.0 and view.rule_block()[0][4, pos(view, "i4")] == 0.0
    for i in range(20, 2000):  # growth past the arrays' capacity: a wider block
        view.upsert(Item(id=f"i{i}", price=1.0))
    _assert_block_current(view)
    restored = pickle.loads(pickle.dumps(view))
    assert "_block" not in restored.__dict__ and "_stale" not in restored.__dict__
    _assert_block_current(restored)
    restored.upsert(Item(id="i0", price=7.0))
    _assert_block_current(restored)
