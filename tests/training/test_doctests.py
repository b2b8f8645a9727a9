"""The runnable examples in the training modules' docstrings stay correct."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["interactions", "splits", "metrics", "evaluate", "report", "offline"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"tastemaker.training.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
