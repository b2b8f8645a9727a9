"""rules.expressions: every kind of name, operator and function, vectorised; type errors."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.rules.expressions import ExpressionError, compile_expression
from tests.rules.conftest import DAY, env_for


def sel(catalog, text, ids="abcdefgh", **kw) -> str:
    env = env_for(catalog, ids, **kw)
    mask = compile_expression(text)(env)
    assert mask.dtype == bool and mask.shape == (len(ids),)
    return "".join(i for i, m in zip(ids, mask) if m)


def test_numbers_and_missing_values(catalog):
    assert sel(catalog, "price >= 20") == "bcdg"  # f has no price: every comparison is false
    assert sel(catalog, "not (price >= 20)") == "aefh"
    assert sel(catalog, "missing(price)") == "f"
    assert sel(catalog, "margin > 0.25 and stock >= 7") == "fg"
    assert sel(catalog, "price * (1 - margin) < 10") == "ae"
    assert sel(catalog, "age < 7d") == "afgh"
    assert sel(catalog, "created_at > 0 and age >= 30d") == "cd"
    assert sel(catalog, "price in [5, 60]") == "eg"
    assert sel(catalog, "price not in [5, 60]") == "abcdfh"
    assert sel(catalog, "abs(-price) == 10 or max(price, 50) == 60") == "ag"
    assert sel(catalog, "clip(price, 0, 12) == 12") == "bcdgh"
    assert sel(catalog, "price % 20 == 0 and price / 2 >= 10") == "bdg"
    assert sel(catalog, "sqrt(price) > 7 or log1p(stock) > 3.9") == "cg"


def test_strings_and_sets(catalog):
    assert sel(catalog, 'brand == "Acme"') == "abh"
    assert sel(catalog, '"Acme" == brand') == "abh"
    assert sel(catalog, 'brand != "Acme"') == "cdefg"
    assert sel(catalog, 'brand in ["Bolt", "Cove"]') == "cdef"
    assert sel(catalog, 'missing(brand)') == "g"
    assert sel(catalog, '"sale" in tags') == "ae"
    assert sel(catalog, '"sale" not in tags and "new" not in tags') == "bdfgh"
    assert sel(catalog, 'category == "shoes"') == "abf"
    assert sel(catalog, 'categories in ["sport", "socks"]') == "beg"
    assert sel(catalog, 'id == "c" or id == "zzz"') == "c"


def test_properties_take_their_type_from_use(catalog):
    assert sel(catalog, 'properties.color == "red"') == "ab"
    assert sel(catalog, '"blue" in properties.color') == "b"
    assert sel(catalog, 'properties.rating >= 4') == "a"
    assert sel(catalog, 'properties.eco') == "a"
    assert sel(catalog, 'not properties.eco') == "bcdefgh"
    assert sel(catalog, 'missing(properties.eco)') == "bdefgh"
    assert sel(catalog, 'missing(properties.color)') == "cdefgh"
    assert sel(catalog, 'properties.nothing > 1') == ""


def test_request_names(catalog, user):
    assert sel(catalog, "purchased", user=user) == "b"
    assert sel(catalog, "seen and not purchased", user=user) == "c"
    assert sel(catalog, "seen") == ""  # no user: nothing seen
    assert sel(catalog, "available") == "bcdefgh"
    assert sel(catalog, 'context.device == "mobile" and price <= 10', context={"device": "mobile"}) == "ae"
    assert sel(catalog, 'context.device in ["tv", "tablet"]', context={"device": "mobile"}) == ""
    assert sel(catalog, 'missing(context.geo)') == "abcdefgh"
    assert sel(catalog, 'source == "trending"', "abc", sources=["x", "trending", "x"]) == "b"
    assert sel(catalog, "score > 1.5", "abc", scores=[1, 2, 3]) == "bc"
    pop = np.arange(8, dtype=float)
    assert sel(catalog, "popularity >= 6", item_columns={"popularity": lambda: pop}) == "gh"
    assert sel(catalog, "trending > 0") == ""  # not provided: missing


def test_enriched_context_as_conditions_and_numbers(catalog):
    """Derived context fields (features.context) in rules: holidays, local hour, device from the user agent."""
    import datetime as dt

    from tastemaker.features.context import EnrichedContext

    xmas = dt.datetime(2026, 12, 25, 20, tzinfo=dt.timezone.utc).timestamp()  # 15:00 in New York
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.1 Mobile/15E148 Safari/604.1")
    ctx = EnrichedContext({"geo": "US", "user_agent": iphone}, xmas)
    assert sel(catalog, "context.is_holiday and price <= 10", context=ctx) == "ae"
    assert sel(catalog, "not context.is_holiday", context=ctx) == ""
    assert sel(catalog, 'context.device == "mobile" and context.hour >= 15 and context.hour < 16', context=ctx) == "abcdefgh"
    assert sel(catalog, 'context.day_of_week in ["saturday", "sunday"]', context=ctx) == ""
    plain = EnrichedContext({"geo": "US"}, dt.datetime(2026, 12, 16, 20, tzinfo=dt.timezone.utc).timestamp())
    assert sel(catalog, "context.is_holiday", context=plain) == ""
    assert sel(catalog, 'context.is_holiday', context={"is_holiday": "false"}) == ""  # a string "false" is false
    assert sel(catalog, 'context.hour > 3', context={"hour": "nope"}) == ""  # not a number: NaN, no comparison holds
    assert sel(catalog, 'context.hour > 3') == ""  # absent: NaN


def test_number_expressions_and_constants(catalog):
    env = env_for(catalog, "abc")
    expr = compile_expression("1 + margin", kind="number")
    np.testing.assert_allclose(expr(env), [1.1, 1.4, 1.2])
    assert compile_expression("2 * 3", kind="number")(env).tolist() == [6.0] * 3
    assert compile_expression("true")(env).tolist() == [True] * 3
    assert compile_expression("price > 10 and false")(env).tolist() == [False] * 3
    assert compile_expression("price / 0 > 1")(env).tolist() == [True] * 3  # inf, no warning raised
    assert compile_expression('brand == "A" or price > 1').names == {"brand", "price"}
    assert compile_expression("age < 1d").names == {"age"}


def test_items_beyond_the_catalog_are_missing(catalog):
    from tastemaker.rules.env import RuleEnv
    env = RuleEnv(catalog, np.array([0, 1000]), now=0.0)
    assert compile_expression("price > 1")(env).tolist() == [True, False]


@pytest.mark.parametrize("text,position,fragment", [
    ("foo > 1", 0, "unknown name 'foo'"),
    ("brand > 3", 0, "expected a number, found a string"),
    ("price + 'x' > 1", 8, "found a quoted string"),
    ("price", 0, "expected a condition, found a number"),
    ("price and seen", 0, "expected a condition"),
    ("brand == 3", 6, "cannot compare a string with a number"),
    ("seen == price", 5, "cannot compare a condition with a number"),
    ("price in ['a']", 6, "cannot look up a number in a list of strings"),
    ("brand in [1]", 6, "cannot look up a string in a list of numbers"),
    ("price in 3", 9, "needs a list"),
    ("nope(1)", 0, "unknown function"),
    ("abs(1, 2) > 0", 0, "takes 1 argument"),
    ("missing(1)", 8, "needs a property"),
    ("missing()", 0, "takes one argument"),
])
def test_type_errors_name_the_position(text, position, fragment):
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert info.value.position == position, info.value
    assert fragment in info.value.message


def test_kind_is_checked():
    with pytest.raises(ExpressionError, match="expected a number"):
        compile_expression("price > 1", kind="number")
    with pytest.raises(ValueError):
        compile_expression("1", kind="string")


def test_no_python_is_ever_evaluated(catalog):
    for text in ["__import__('os').system('true')", "price.__class__ > 1", "().__class__"]:
        with pytest.raises(ExpressionError):
            compile_expression(text)


def test_day_arithmetic(catalog):
    env = env_for(catalog, "a")
    assert compile_expression("age / 1d", kind="number")(env).tolist() == [1.0]
    assert DAY == 86400.0


def test_user_segments_is_one_set_for_every_candidate():
    """``user.segments``: the requesting user's segments, read once per request (RuleEnv.segments)."""
    from tastemaker.features.catalog import CatalogView
    from tastemaker.features.item_index import ItemIndex
    from tastemaker.rules.env import RuleEnv
    from tastemaker.schema.records import Item

    cat = CatalogView(ItemIndex())
    for i, p in enumerate([5.0, 50.0]):
        cat.upsert(Item(id=f"i{i}", price=p))
    calls = []

    def segments():
        calls.append(1)
        return ["vip", "new"]
    env = RuleEnv(cat, np.arange(2), now=0.0, segments=segments)
    assert compile_expression('"vip" in user.segments and price > 10')(env).tolist() == [False, True]
    assert compile_expression('user.segments in ["gold", "new"]')(env).tolist() == [True, True]
    assert compile_expression('not ("gold" in user.segments)')(env.subset(np.array([1]))).tolist() == [True]
    assert calls == [1]  # computed once, then carried to subsets
    assert compile_expression('"vip" in user.segments')(RuleEnv(cat, np.arange(2), now=0.0)).tolist() == [False, False]
    with pytest.raises(ExpressionError):
        compile_expression("missing(user.segments)")
