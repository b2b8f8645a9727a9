"""serving.placements: the built-in surfaces and their pipelines."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.placements import DEFAULT_PLACEMENTS, PlacementRegistry, apply_overrides
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


# -- configured placements (issue 4) -------------------------------------------------------


YAML = """\
placements:
  home:
    sources: {trending: 1}
    n: 7
  promo:
    sources: {trending: 1}
    rules: [{where: 'price > 10'}]
"""


def _bump(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_registry_loads_overlays_and_reloads_the_file(tmp_path):
    path = tmp_path / "placements.yaml"
    path.write_text(YAML)
    registry = PlacementRegistry(path=path, check_every_s=0.0)
    assert registry.names() == ["cart", "email", "home", "product-page", "promo"]
    assert registry.get("home").n == 7 and registry.get("cart") is DEFAULT_PLACEMENTS["cart"]
    assert registry.config("promo") == {"sources": {"trending": 1}, "rules": [{"where": "price > 10"}]}
    assert registry.reload_if_changed() is False  # unchanged file: only a stat
    path.write_text(YAML.replace("n: 7", "n: 9"))
    _bump(path)
    assert registry.reload_if_changed() is True and registry.get("home").n == 9
    # an invalid file is refused whole; the previous table keeps serving
    path.write_text(YAML.replace("price > 10", "price >"))
    _bump(path)
    assert registry.reload_if_changed() is False
    assert registry.get("home").n == 9 and registry.last_error is not None
    assert registry.last_error.errors[0].field == "/placements/promo/rules/0/where"
    path.unlink()
    assert registry.reload() is True and registry.names() == ["cart", "email", "home", "product-page"]


def test_a_bad_file_at_start_is_an_error(tmp_path):
    path = tmp_path / "placements.yaml"
    path.write_text("placements:\n  home: {sources: {nope: 1}}\n")
    with pytest.raises(ValidationFailed, match="unknown source"):
        PlacementRegistry(path=path)
    assert PlacementRegistry(path=tmp_path / "missing.yaml").names() == ["cart", "email", "home", "product-page"]


def test_put_and_delete_persist_for_other_workers(tmp_path):
    path = tmp_path / "placements.yaml"
    a = PlacementRegistry(path=path, check_every_s=0.0)
    b = PlacementRegistry(path=path, check_every_s=0.0)
    a.put("home", {"sources": {"trending": 1}, "n": 3, "rules": [{"pin": "x", "position": 1}]})
    with pytest.raises(ValidationFailed):
        a.put("home", {"sources": {"trending": "lots"}})
    assert a.get("home").n == 3
    _bump(path)  # a distinct mtime without waiting for the clock to tick
    assert b.reload_if_changed() and b.get("home").n == 3 and b.get("home").rules.pins[0].item_id == "x"
    assert a.delete("home") and a.get("home") is DEFAULT_PLACEMENTS["home"]
    assert not a.delete("home") and not a.delete("cart")
    _bump(path)
    assert b.reload_if_changed() and b.get("home") is DEFAULT_PLACEMENTS["home"]


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
