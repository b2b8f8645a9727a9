"""rules.user_expressions: segment expressions over one user, and their errors with positions."""

from __future__ import annotations

import doctest

import pytest

from tastemaker.rules import user_expressions
from tastemaker.rules.user_expressions import ExpressionError, compile_user_expression

USER = {
    "user.orders": 3, "user.recency": 3 * 86_400.0, "user.lifecycle": "active", "user.segments": frozenset({"buyer"}),
    "user.churn_probability": 0.7, "events.purchase": 3, "rfm.monetary": 5, "features.views_1h": 12.0,
    "traits.country": "FR", "traits.age": 34, "traits.vip": True, "traits.tags": ["a", "b"], "context.device": "mobile",
}


def test_doctest():
    assert doctest.testmod(user_expressions).failed == 0


@pytest.mark.parametrize("text, expected", [
    ("user.orders >= 2", True),
    ("user.recency < 2d", False),
    ("user.recency <= 3d and user.lifecycle == 'active'", True),
    ("'buyer' in user.segments and not ('vip' in user.segments)", True),
    ("user.churn_probability > 0.5 or rfm.monetary < 2", True),
    ("events.purchase * 2 == 6", True),
    ("features.views_1h / 4 >= 3", True),
    ("traits.country in ['FR', 'DE'] and traits.age > 30", True),
    ("traits.vip", True),
    ("'a' in traits.tags", True),
    ("context.device == 'mobile'", True),
    ("traits.height > 1", False),                   # missing: every comparison false
    ("not (traits.height > 1)", True),
    ("missing(traits.height) and not missing(traits.age)", True),
    ("traits.country > 3", False),                  # a string where a number is wanted: missing
    ("events.dislike == 0", False),                 # no count is missing, not zero
    ("max(user.orders, 10) == 10 and clip(traits.age, 0, 18) == 18 and abs(-2) == 2", True),
    ("sqrt(-1) > 0 or user.orders / 0 > 1", False),  # undefined: missing
    ("traits.age in [34, 35]", True),
])
def test_evaluates(text: str, expected: bool):
    assert compile_user_expression(text)(USER.get) is expected


@pytest.mark.parametrize("text, position, fragment", [
    ("user.orders >", 13, "unexpected end"),
    ("user.orderz > 1", 0, "unknown name 'user.orderz'"),
    ("shoes.size > 1", 0, "namespaces: user"),
    ("rfm.loyalty > 1", 0, "rfm.NAME"),
    ("user.orders > 1 and user.lifecycle > 2", 20, "expected a number, found a string"),
    ("user.segments == 'buyer'", 14, "use 'buyer' in the set"),
    ("user.orders", 0, "expected a condition, found a number"),
    ("frobnicate(user.orders) > 1", 0, "unknown function"),
    ("min(user.orders) > 1", 0, "takes 2 arguments"),
    ("user.orders in 3", 15, "needs a list"),
    ("user.orders = 3", 12, "use '=='"),
])
def test_errors_name_the_position(text: str, position: int, fragment: str):
    with pytest.raises(ExpressionError) as err:
        compile_user_expression(text)
    assert err.value.position == position and fragment in str(err.value)


def test_names_are_recorded():
    assert compile_user_expression("traits.a == 'x' or user.orders > 1").names == {"traits.a", "user.orders"}
