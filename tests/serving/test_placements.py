"""serving.placements: the built-in surfaces and their pipelines."""

from __future__ import annotations

from tastemaker.serving.placements import DEFAULT_PLACEMENTS, PlacementRegistry
from tastemaker.serving.sources import SOURCES


def test_builtin_placements():
    registry = PlacementRegistry()
    assert registry.names() == ["cart", "email", "home", "product-page"]
    assert registry.get("home") is DEFAULT_PLACEMENTS["home"]
    assert registry.get("nope") is None


def test_every_source_exists_and_weights_are_positive():
    for placement in DEFAULT_PLACEMENTS.values():
        assert placement.sources
        for name, spec in placement.sources.items():
            assert name in SOURCES
            assert spec.weight > 0 and spec.n > 0


def test_surface_specifics():
    assert "seed_covisitation" in DEFAULT_PLACEMENTS["product-page"].sources
    assert "seed_covisitation" in DEFAULT_PLACEMENTS["cart"].sources
    assert DEFAULT_PLACEMENTS["email"].exclude_seen is True
    assert DEFAULT_PLACEMENTS["home"].exclude_seen is False


def test_registries_do_not_share_their_table():
    a, b = PlacementRegistry(), PlacementRegistry()
    del a.placements["home"]
    assert b.get("home") is not None
