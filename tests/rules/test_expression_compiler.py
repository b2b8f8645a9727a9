"""rules.expression_compiler: the walk records the names an expression reads and refuses a type
mismatch at the node's position (the language itself: tests/rules/test_expressions.py)."""

from __future__ import annotations

import pytest

from tastemaker.rules.expression_compiler import NAMES, ItemExpressionCompiler
from tastemaker.rules.parser import ExpressionError, parse


def test_the_names_an_expression_reads_are_recorded():
    text = "price > 10 and brand == 'acme'"
    compiler = ItemExpressionCompiler(text)
    compiler.condition(parse(text))
    assert compiler.names == {"price", "brand"} and {NAMES["price"], NAMES["brand"]} == {"number", "string"}


def test_a_type_mismatch_names_its_position():
    text = "price and brand"
    with pytest.raises(ExpressionError) as err:
        ItemExpressionCompiler(text).condition(parse(text))
    assert err.value.position == 0
