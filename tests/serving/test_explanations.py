"""serving.explanations: a sentence and the user's items behind a recommendation."""

from __future__ import annotations

from tastemaker.schema.records import Item
from tastemaker.serving.explanations import explain


def test_seeded_explanation_names_the_related_items(world):
    world.items(Item(id="a", title="Red Shoes"), Item(id="b"), Item(id="c", title="Hat"))
    world.event("view", "v", "a")
    world.event("view", "v", "b")
    seeds = [world.pos("c"), world.pos("a")]  # c is not a neighbour of b, a is
    out = explain(world.state, world.pos("b"), "covisitation", seeds)
    assert out == {"source": "covisitation", "because_of": ["a"], "because": [{"id": "a", "title": "Red Shoes"}],
                   "reason": "Because you recently interacted with “Red Shoes”"}


def test_titles_with_commas_stay_unambiguous(world):
    titles = ["Starship Troopers", "Long Kiss Goodnight, The", "Amistad"]
    world.items(*[Item(id=f"m{k}", title=t) for k, t in enumerate(titles)], Item(id="x"))
    for k in range(3):
        world.event("view", f"v{k}", f"m{k}")
        world.event("view", f"v{k}", "x")
    out = explain(world.state, world.pos("x"), "covisitation", [world.pos(f"m{k}") for k in range(3)])
    assert out["because"] == [{"id": f"m{k}", "title": t} for k, t in enumerate(titles)]
    assert out["because_of"] == ["m0", "m1", "m2"]
    assert out["reason"] == "Because you recently interacted with “Starship Troopers”, “Long Kiss Goodnight, The” and “Amistad”"


def test_unrelated_seeds_fall_back_to_the_first(world):
    world.items(Item(id="a"), Item(id="b"))
    world.event("view", "v", "a")
    out = explain(world.state, world.pos("a"), "seed_covisitation", [world.pos("b")])
    assert out["because_of"] == ["b"] and out["because"] == [{"id": "b", "title": None}]
    assert out["reason"] == "Often viewed together with “b”"  # no title: the id


def test_category_affinity_names_the_category(world):
    world.items(Item(id="a", categories=["shoes", "sale"]))
    assert explain(world.state, world.pos("a"), "category_affinity", []) == {
        "source": "category_affinity", "reason": "Because you like shoes",
    }


def test_sources_without_seeds(world):
    world.items(Item(id="a"))
    assert explain(world.state, 0, "trending", []) == {"source": "trending", "reason": "Trending right now"}
    assert explain(world.state, 0, "popular", [])["reason"] == "Popular right now"
    assert explain(world.state, 0, "my_source", []) == {"source": "my_source", "reason": "my_source"}


def test_rule_moves_are_listed_from_the_rules_trace(world):
    """explain=true: the rules that moved an item, as the rules engine recorded them."""
    import numpy as np

    from tastemaker.rules.boosts import Boost
    from tastemaker.rules.engine import RuleSet, RuleTrace
    from tastemaker.rules.env import RuleEnv
    from tastemaker.rules.expressions import compile_expression
    from tastemaker.rules.pins import Pin
    from tastemaker.candidates import Candidates

    world.items(Item(id="a", brand="Acme"), Item(id="b"), Item(id="c"))
    items = np.array([world.pos(i) for i in "abc"])
    cands = Candidates(items, np.array([1.0, 2.0, 3.0]), np.array(["trending"] * 3, dtype=object))
    rules = RuleSet(boosts=(Boost("acme", compile_expression('brand == "Acme"'), 2.0),), pins=(Pin("b", 1, name="hero"),))
    trace = RuleTrace()
    top = rules.apply(cands, RuleEnv(world.state.catalog, items, 0.0), 3, trace)
    assert [world.state.index.ids[i] for i in top.items] == ["b", "c", "a"]
    a = explain(world.state, world.pos("a"), "trending", [], trace.for_item(world.pos("a")))
    assert a["rules"] == [{"rule": "acme", "effect": "boosted: score x2"}]
    b = explain(world.state, world.pos("b"), "trending", [], trace.for_item(world.pos("b")))
    assert b["rules"] == [{"rule": "hero", "effect": "pinned at position 1"}]
    assert "rules" not in explain(world.state, world.pos("c"), "trending", [], trace.for_item(world.pos("c")))
    assert explain(world.state, world.pos("c"), "pinned", [])["reason"] == "Featured by the shop"
