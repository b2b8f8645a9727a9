"""serving.placements: the built-in surfaces and their pipelines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.placements import DEFAULT_PLACEMENTS, apply_overrides
from tastemaker.serving.sources import SOURCES


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


def test_overrides_only_where_allowed():
    home = DEFAULT_PLACEMENTS["home"]
    assert apply_overrides(home, {}) is home
    with pytest.raises(ValidationFailed) as info:
        apply_overrides(home, {"diversity": "0.5"})
    assert info.value.errors[0].field == "override.diversity"
    p = replace(home, overrides=frozenset({"diversity", "margin", "n", "price", "disable", "ranker", "popularity_penalty",
                                           "calibration"}))
    out = apply_overrides(p, {"diversity": "0.5", "calibration": 0.1, "margin": "0.2", "n": "4", "price": "10..",
                              "ranker": "ltr", "popularity_penalty": "0.3"})
    assert out.diversity.lambda_ == 0.5 and out.diversity.calibration == 0.1 and out.rules.margin.weight == 0.2
    assert out.n == 4 and out.ranker == "ltr" and out.fairness.popularity_penalty == 0.3
    assert out.rules.filters[-1].min == 10 and out.rules.filters[-1].max == float("inf")
    for bad in ({"diversity": "2"}, {"margin": "x"}, {"price": "10"}, {"ranker": "magic"}):
        with pytest.raises(ValidationFailed):
            apply_overrides(p, bad)
    from tastemaker.rules.filters import InStock
    q = replace(p, rules=replace(p.rules, filters=(InStock(),)))
    assert apply_overrides(q, {"disable": "in_stock, other"}).rules.filters == ()


def test_only_configured_stages_make_a_placement_staged():
    from tastemaker.serving.placement_config import placement_from_json

    assert not any(p.staged for p in DEFAULT_PLACEMENTS.values())
    plain = placement_from_json("p", {"sources": {"trending": 1}, "n": 4, "diversity": {"lambda": 0}})
    assert not plain.staged
    for extra in ({"rules": [{"filter": "in_stock"}]}, {"ranker": "ltr"}, {"log_impressions": True},
                  {"diversity": {"lambda": 0.2}}, {"diversity": {"calibration": 0.2}},
                  {"fairness": {"popularity_penalty": 0.1}}, {"fairness": {"min_exposure": {"brand": {"a": 0.2}}}}):
        assert placement_from_json("p", {"sources": {"trending": 1}, **extra}).staged, extra
    assert apply_overrides(replace(plain, overrides=frozenset({"diversity"})), {"diversity": "0.3"}).staged
