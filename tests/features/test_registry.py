"""FeatureRegistry: built-ins, user-defined definitions, shared channels."""

from __future__ import annotations

import pytest

from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.registry import FeatureRegistry, compile_plan
from tastemaker.schema.errors import ValidationFailed


def test_builtins_are_about_twenty_and_unique():
    registry = FeatureRegistry()
    names = [d.name for d in registry.definitions]
    assert len(names) >= 20 and len(set(names)) == len(names)
    assert {d.entity for d in registry.definitions} == {"user", "item", "category"}


def test_channels_are_shared_between_definitions():
    plan = compile_plan(FeatureRegistry().definitions)
    day = next(g for g in plan.tables["user"] if g.window_s == 86_400.0)
    views = [c for c in plan.tables["user"][day] if c == ("count", frozenset({"view"}))]
    assert len(views) == 1  # user_views_1d, user_ctr_1d and user_cart_rate_1d read one channel
    assert plan.reads["user_ctr_1d"][1] == plan.reads["user_views_1d"][0]


def test_custom_definitions_are_checked_all_or_nothing():
    registry = FeatureRegistry([FeatureDefinition("mine", "item", "count", 120.0)])
    assert registry.get("mine").builtin is False
    with pytest.raises(ValidationFailed) as info:
        registry.set_custom([FeatureDefinition("ok_one", "user", "count", 60.0),
                             FeatureDefinition("user_views_1h", "user", "count", 60.0),
                             FeatureDefinition("Bad", "shop", "median", None, value="nope")])
    fields = {e.field for e in info.value.errors}
    assert fields == {"/1/name", "/2/name", "/2/entity", "/2/aggregation", "/2/window_s", "/2/value"}
    assert [d.name for d in registry.custom] == ["mine"]  # unchanged

