"""serving.filters: what a user must not (or should less) be shown."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.schema.records import Item
from tastemaker.candidates import Candidates
from tastemaker.serving.filters import allowed, penalise_seen, screen
from tastemaker.serving.placements import DEFAULT_PLACEMENTS, Placement, SourceSpec

HOME = DEFAULT_PLACEMENTS["home"]


@pytest.fixture
def cat(world):
    world.items(
        Item(id="a", categories=["shoes"], brand="acme", stock=5),
        Item(id="b", categories=["shoes"], brand="zen", stock=0),
        Item(id="c", categories=["hats"], brand="acme"),
        Item(id="d", categories=["hats"], brand="zen", stock=1),
    )
    world.state.index.add("ghost")  # seen in events only, not in the catalog
    return world


def passing(world, user="u", placement=HOME, require_catalog=True, **kw) -> list[str]:
    ids = np.arange(len(world.state.index), dtype=np.int64)
    mask = allowed(world.ctx(user, **kw), placement, ids, require_catalog)
    return [world.state.index.ids[i] for i in ids[mask]]


def test_stock_and_catalog(cat):
    assert passing(cat) == ["a", "c", "d"]
    assert passing(cat, require_catalog=False) == ["a", "c", "d", "ghost"]  # out of stock stays out


def test_without_a_catalog_anything_from_events_goes(world):
    world.event("view", "x", "p")
    world.event("view", "x", "q")
    assert passing(world) == ["p", "q"]


def test_items_beyond_the_catalog_arrays(cat):
    far = np.array([10_000], dtype=np.int64)
    assert allowed(cat.ctx(), HOME, far, True).tolist() == [False]
    assert allowed(cat.ctx(), HOME, far, False).tolist() == [True]


def test_purchased_rated_disliked_are_excluded_unless_asked(cat):
    cat.event("purchase", "u", "a")
    cat.event("dislike", "u", "c")
    cat.event("view", "u", "d")
    assert passing(cat) == ["d"]
    assert passing(cat, include_purchased=True) == ["a", "c", "d"]
    keep_all = Placement("again", {}, include_purchased=True)
    assert passing(cat, placement=keep_all) == ["a", "c", "d"]
    assert passing(cat, user="someone-else") == ["a", "c", "d"]


def test_exclude_seen_placement(cat):
    cat.event("view", "u", "a")
    assert passing(cat, placement=DEFAULT_PLACEMENTS["email"]) == ["c", "d"]
    assert passing(cat) == ["a", "c", "d"]


def test_request_filters(cat):
    assert passing(cat, exclude=frozenset({"a", "nonexistent"})) == ["c", "d"]
    assert passing(cat, item_id="c") == ["a", "d"]  # the item on screen itself
    assert passing(cat, category="hats") == ["c", "d"]
    assert passing(cat, category="shoes") == ["a"]
    assert passing(cat, brand="zen") == ["d"]
    assert passing(cat, category="hats", brand="acme") == ["c"]
    assert passing(cat, category="nothing") == []


def test_penalise_seen(cat):
    cat.event("view", "u", "a")
    items = np.array([cat.pos("a"), cat.pos("c")], dtype=np.int64)
    cands = Candidates(items, np.array([1.0, 1.0]), np.array(["x", "x"], dtype=object))
    out = penalise_seen(cat.ctx(), HOME, cands)
    assert out.scores.tolist() == [HOME.seen_penalty, 1.0] == [0.5, 1.0]
    fresh = Candidates(items, np.array([1.0, 1.0]), np.array(["x", "x"], dtype=object))
    no_penalty = Placement("p", {"popular": SourceSpec(1.0)}, seen_penalty=1.0)
    assert penalise_seen(cat.ctx(), no_penalty, fresh).scores.tolist() == [1.0, 1.0]
    assert penalise_seen(cat.ctx("stranger"), HOME, fresh).scores.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("placement", [HOME, DEFAULT_PLACEMENTS["email"], Placement("again", {}, include_purchased=True)])
def test_screen_is_allowed_then_penalise_in_one_pass(cat, placement):
    cat.event("purchase", "u", "a")
    cat.event("view", "u", "d")
    cat.event("view", "u", "c")
    cat.event("dislike", "u", "c")  # seen and excluded: excluded wins
    items = np.arange(len(cat.state.index), dtype=np.int64)

    def cands() -> Candidates:
        return Candidates(items, np.linspace(1.0, 2.0, len(items)), np.full(len(items), "x", dtype=object))

    two_pass = penalise_seen(cat.ctx(), placement, cands().keep(allowed(cat.ctx(), placement, items, True)))
    one_pass = screen(cat.ctx(), placement, cands(), True)
    assert one_pass.items.tolist() == two_pass.items.tolist()
    np.testing.assert_allclose(one_pass.scores, two_pass.scores)
    again = screen(cat.ctx(), placement, cands(), True)  # the scratch buffer was left clean
    np.testing.assert_allclose(again.scores, one_pass.scores)
