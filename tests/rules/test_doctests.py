"""The runnable examples in the docstrings of the rules, ranking and placement modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [f"tastemaker.rules.{m}" for m in ("env", "parser", "expressions", "filters", "boosts", "pins", "schedule",
                                              "caps", "margin", "engine")] + \
          [f"tastemaker.ranking.{m}" for m in ("diversity", "calibration", "fairness", "features")] + \
          ["tastemaker.serving.placements", "tastemaker.serving.placement_config", "tastemaker.serving.config_document",
           "tastemaker.features.catalog"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
