"""serving.placement_registry: the table in force, the built-ins overlaid by a reloaded document."""

from __future__ import annotations

import os

import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.placements import DEFAULT_PLACEMENTS
from tastemaker.storage.local.artifacts import LocalArtifactStore


def test_builtin_placements():
    registry = PlacementRegistry()
    assert registry.names() == ["cart", "email", "home", "product-page"]
    assert registry.get("home") is DEFAULT_PLACEMENTS["home"]
    assert registry.get("nope") is None


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
    registry = PlacementRegistry(LocalArtifactStore(tmp_path), check_every_s=0.0)
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
        PlacementRegistry(LocalArtifactStore(tmp_path))
    assert PlacementRegistry(LocalArtifactStore(tmp_path), "missing.yaml").names() == ["cart", "email", "home", "product-page"]


def test_put_and_delete_persist_for_other_workers(tmp_path):
    a = PlacementRegistry(LocalArtifactStore(tmp_path), check_every_s=0.0)
    b = PlacementRegistry(LocalArtifactStore(tmp_path), check_every_s=0.0)
    a.put("home", {"sources": {"trending": 1}, "n": 3, "rules": [{"pin": "x", "position": 1}]})
    with pytest.raises(ValidationFailed):
        a.put("home", {"sources": {"trending": "lots"}})
    assert a.get("home").n == 3
    assert b.reload_if_changed() and b.get("home").n == 3 and b.get("home").rules.pins[0].item_id == "x"
    assert a.delete("home") and a.get("home") is DEFAULT_PLACEMENTS["home"]
    assert not a.delete("home") and not a.delete("cart")
    assert b.reload_if_changed() and b.get("home") is DEFAULT_PLACEMENTS["home"]
