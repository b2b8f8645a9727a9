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
