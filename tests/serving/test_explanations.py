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
    assert out == {"source": "covisitation", "because_of": ["a"], "reason": "because you recently interacted with Red Shoes"}


def test_unrelated_seeds_fall_back_to_the_first(world):
    world.items(Item(id="a"), Item(id="b"))
    world.event("view", "v", "a")
    out = explain(world.state, world.pos("a"), "seed_covisitation", [world.pos("b")])
    assert out["because_of"] == ["b"]
    assert out["reason"] == "often viewed together with b"  # no title: the id


def test_category_affinity_names_the_category(world):
    world.items(Item(id="a", categories=["shoes", "sale"]))
    assert explain(world.state, world.pos("a"), "category_affinity", []) == {
        "source": "category_affinity", "reason": "because you like shoes",
    }


def test_sources_without_seeds(world):
    world.items(Item(id="a"))
    assert explain(world.state, 0, "trending", []) == {"source": "trending", "reason": "trending right now"}
    assert explain(world.state, 0, "popular", [])["reason"] == "popular right now"
    assert explain(world.state, 0, "my_source", []) == {"source": "my_source", "reason": "my_source"}
