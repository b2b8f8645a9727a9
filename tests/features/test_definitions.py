"""Feature definitions: validation names the field, listing shape."""

from __future__ import annotations

from tastemaker.features.definitions import (
    DEFAULT_DEFINITIONS,
    FeatureDefinition,
    problems,
)


def fields(d: FeatureDefinition) -> list[str]:
    return [f for f, _ in problems(d)]


def test_builtins_are_valid():
    assert all(problems(d) == [] for d in DEFAULT_DEFINITIONS)


def test_each_problem_names_its_field():
    assert fields(FeatureDefinition("t", "item", "trend", 3600.0, long_window_s=60.0)) == ["long_window_s"]
    assert fields(FeatureDefinition("r", "user", "ratio", 60.0)) == ["denominator_types"]
    assert fields(FeatureDefinition("s", "user", "sum", 60.0)) == ["value"]
    assert fields(FeatureDefinition("m", "user", "mean_ratio", 60.0, value="item.price",
                                    denominator_types=frozenset({"view"}))) == ["denominator_value"]
    assert fields(FeatureDefinition("l", "user", "since_last", 60.0)) == ["window_s"]
    assert fields(FeatureDefinition("b", "user", "count", 60.0, buckets=0)) == ["buckets"]
    assert fields(FeatureDefinition("v", "user", "sum", 60.0, value="context.a b")) == ["value"]


def test_to_dict_lists_what_the_aggregation_uses():
    ratio = FeatureDefinition("r", "user", "ratio", 60.0, frozenset({"click"}), denominator_types=frozenset({"view"}))
    assert ratio.to_dict()["denominator_types"] == ["view"] and "long_window_s" not in ratio.to_dict()
    assert ratio.type == "number" and FeatureDefinition("c", "user", "count", 60.0).type == "integer"
