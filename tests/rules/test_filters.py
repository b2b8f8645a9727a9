"""rules.filters: each filter type, missing values, schedules."""

from __future__ import annotations

import math

from tastemaker.rules.expressions import compile_expression
from tastemaker.rules.filters import (AgeRange, BrandFilter, CategoryFilter, ExpressionFilter, InStock, NotPurchased,
                                      PriceRange)
from tastemaker.rules.schedule import Schedule
from tests.rules.conftest import DAY, env_for


def kept(catalog, f, ids="abcdefgh", **kw) -> str:
    mask = f.mask(env_for(catalog, ids, **kw))
    return "".join(i for i, m in zip(ids, mask) if m)


def test_in_stock(catalog):
    assert kept(catalog, InStock()) == "bcdefgh"  # a has stock 0; e has untracked stock
    assert kept(catalog, InStock(min_stock=3)) == "bcefg"
    catalog.remove("c")
    assert kept(catalog, InStock()) == "bdefgh"


def test_category_and_brand(catalog):
    assert kept(catalog, CategoryFilter(include=frozenset({"shoes"}))) == "abf"
    assert kept(catalog, CategoryFilter(include=frozenset({"shoes", "hats"}), exclude=frozenset({"sport"}))) == "acdf"
    assert kept(catalog, CategoryFilter(exclude=frozenset({"nothing"}))) == "abcdefgh"
    assert kept(catalog, BrandFilter(include=frozenset({"Acme", "Cove"}))) == "abefh"
    assert kept(catalog, BrandFilter(exclude=frozenset({"Acme"}))) == "cdefg"


def test_price_and_age(catalog):
    assert kept(catalog, PriceRange(min=10, max=30)) == "abch"  # f has no price
    assert kept(catalog, PriceRange(max=10)) == "ae"
    assert kept(catalog, AgeRange(max_age=7 * DAY)) == "afgh"  # e has no created_at
    assert kept(catalog, AgeRange(min_age=30 * DAY)) == "cd"
    assert PriceRange().min == -math.inf


def test_expression_and_purchased(catalog, user):
    f = ExpressionFilter(expr=compile_expression('margin >= 0.2 and brand != "Bolt"'), name="good-margin")
    assert kept(catalog, f) == "bfgh" and f.name == "good-margin"
    assert kept(catalog, NotPurchased(), user=user) == "acdefgh"
    assert kept(catalog, NotPurchased()) == "abcdefgh"


def test_filters_carry_a_schedule():
    f = InStock(schedule=Schedule(0, 10))
    assert f.schedule.active(5) and not f.schedule.active(10)
