"""The runnable examples in the evaluation modules' docstrings stay correct."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["splits", "metrics", "evaluate", "report", "offline", "lists"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"tastemaker.evaluation.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
