"""serving.placement_config: a full YAML document, and errors that name field and line."""

from __future__ import annotations

import math

import pytest

from tastemaker.rules.expressions import Expression
from tastemaker.rules.filters import AgeRange, BrandFilter, CategoryFilter, ExpressionFilter, InStock, NotPurchased, PriceRange
from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.placement_config import load_placements, placement_from_json

FULL = """\
placements:
  home:
    description: personal picks
    n: 12
    sources:
      covisitation: 1.0
      trending: {weight: 0.15, n: 100}
    ranker: ltr
    diversity: {lambda: 0.3, by: categories, calibration: 0.2}
    fairness:
      popularity_penalty: 0.2
      min_exposure: {brand: {Acme: 0.2, Bolt: 0.1}}
    rules:
      - filter: in_stock
        min_stock: 2
      - filter: category
        include: [shoes, hats]
        exclude: sale-bin
      - filter: brand
        exclude: [Evil]
      - filter: price
        max: 100
      - filter: age
        max: 30d
      - filter: not_purchased
      - filter: expression
        when: 'margin > 0'
      - where: '"hidden" not in tags'
        name: not-hidden
      - boost: 'brand == "Acme"'
        factor: 1.5
        name: acme
      - bury: 'age > 90d'
      - boost: 'margin > 0.2'
        factor: '1 + margin'
      - pin: sku-1
        position: 1
      - cap: brand
        max: 2
      - cap: category
        max: 3
        strict: true
      - margin: 0.3
    promotions:
      - name: xmas
        start: 2024-12-01T00:00:00Z
        end: "2024-12-27T00:00:00Z"
        rules:
          - boost: '"xmas" in tags'
            factor: 2
          - pin: xmas-hero
            position: 2
    overrides: [diversity, margin, n]
    seen_penalty: 0.8
    exclude_seen: true
  cart:
    sources: {seed_covisitation: 2}
"""


def test_full_document():
    placements = load_placements(FULL)
    home = placements["home"]
    assert home.n == 12 and home.ranker == "ltr" and home.description == "personal picks"
    assert home.sources["covisitation"].weight == 1.0 and home.sources["trending"].n == 100
    assert home.diversity.lambda_ == 0.3 and home.diversity.calibration == 0.2 and home.diversity.by == "categories"
    assert home.diversity.method == "mmr"  # the default
    swapped = load_placements("placements:\n  p:\n    sources: {trending: 1}\n    diversity: {lambda: 0.2, method: swap}\n")
    assert swapped["p"].diversity.method == "swap" and swapped["p"].diversity.lambda_ == 0.2
    assert home.fairness.popularity_penalty == 0.2 and dict(home.fairness.min_exposure["brand"]) == {"Acme": 0.2, "Bolt": 0.1}
    kinds = [type(f) for f in home.rules.filters]
    assert kinds == [InStock, CategoryFilter, BrandFilter, PriceRange, AgeRange, NotPurchased, ExpressionFilter, ExpressionFilter]
    assert home.rules.filters[0].min_stock == 2 and home.rules.filters[1].exclude == {"sale-bin"}
    assert home.rules.filters[3].max == 100 and home.rules.filters[4].max_age == 30 * 86400
    assert home.rules.filters[7].name == "not-hidden"
    boosts = home.rules.boosts
    assert [b.name for b in boosts[:2]] == ["acme", "bury:age > 90d"] and boosts[1].factor == 0.5
    assert isinstance(boosts[2].factor, Expression)
    xmas = boosts[3]
    assert xmas.name.startswith("xmas/") and xmas.schedule.start == 1733011200.0 and xmas.schedule.end == 1735257600.0
    assert [(p.item_id, p.position) for p in home.rules.pins] == [("sku-1", 1), ("xmas-hero", 2)]
    assert not home.rules.pins[0].schedule.active(-math.inf) or home.rules.pins[0].schedule.always
    assert [(c.kind, c.max_items, c.strict) for c in home.rules.caps] == [("brand", 2, False), ("category", 3, True)]
    assert home.rules.margin.weight == 0.3
    assert home.overrides == {"diversity", "margin", "n"} and home.seen_penalty == 0.8 and home.exclude_seen
    cart = placements["cart"]
    assert cart.n == 10 and cart.ranker == "blend" and not cart.rules and cart.diversity is None
    assert home.config["n"] == 12


def errors_of(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as info:
        load_placements(text)
    assert info.value.status == 422
    return [(e.field, e.reason) for e in info.value.errors]


def test_errors_name_field_line_and_column():
    text = FULL.replace("factor: 1.5", "factor: [1.5]").replace("max: 2\n", "max: 0\n").replace("ranker: ltr", "ranker: magic")
    errs = dict(errors_of(text))
    assert errs["/placements/home/rules/8/factor"] == "line 31, column 17: must be a number"
    assert errs["/placements/home/rules/12/max"] == "line 39, column 14: must be between 1 and 500"
    assert errs["/placements/home/ranker"] == "line 8, column 13: must be one of: blend, ltr"
    assert len(errs) == 3  # every error of the document, at once


def test_expression_errors_point_into_the_line():
    errs = errors_of("placements:\n  home:\n    sources: {trending: 1}\n    rules:\n      - where: \"price > 1 and brnd == 'x'\"\n")
    assert errs == [("/placements/home/rules/0/where",
                     "line 5, column 31: unknown name 'brnd' (known: age, available, brand, categories, category, "
                     "created_at, id, margin, popularity, price, purchased, score, seen, source, stock, tags, trending, "
                     "properties.NAME, context.NAME, user.segments) at position 14")]
    line = "      - where: \"price > 1 and brnd == 'x'\""
    assert line[30:34] == "brnd"  # column 31, 1-based


@pytest.mark.parametrize("snippet,field,fragment", [
    ("    sources: {nope: 1}\n", "/placements/p/sources/nope", "unknown source 'nope'"),
    ("    sources: {}\n", "/placements/p/sources", "non-empty mapping"),
    ("    sources: {trending: 1}\n    colour: red\n", "/placements/p/colour", "unknown field 'colour'"),
    ("    sources: {trending: 1}\n    rules: [{filter: weird}]\n", "/placements/p/rules/0/filter", "unknown filter 'weird'"),
    ("    sources: {trending: 1}\n    rules: [{boost: 'x > 1', bury: 'y'}]\n", "/placements/p/rules/0", "exactly one of"),
    ("    sources: {trending: 1}\n    rules: [{bury: 'price > 1', factor: 2}]\n", "/placements/p/rules/0/factor", "below 1"),
    ("    sources: {trending: 1}\n    rules: [{boost: 'price > 1', factor: 0.5}]\n", "/placements/p/rules/0/factor", "use bury"),
    ("    sources: {trending: 1}\n    rules: [{pin: sku, position: 0}]\n", "/placements/p/rules/0/position", "between 1"),
    ("    sources: {trending: 1}\n    rules: [{cap: colour, max: 2}]\n", "/placements/p/rules/0/cap", "'brand' or 'category'"),
    ("    sources: {trending: 1}\n    rules: [{filter: age, max: soon}]\n", "/placements/p/rules/0/max", "duration"),
    ("    sources: {trending: 1}\n    rules: [{filter: price, min: 10, max: 5}]\n", "/placements/p/rules/0/max", "at least min"),
    ("    sources: {trending: 1}\n    rules: [{margin: 0.2}, {margin: 0.3}]\n", "/placements/p/rules/1/margin", "set twice"),
    ("    sources: {trending: 1}\n    overrides: [sources]\n", "/placements/p/overrides", "cannot be overridden"),
    ("    sources: {trending: 1}\n    promotions: [{start: 2024-01-02, end: 2024-01-01}]\n", "/placements/p/promotions/0/end", "end after"),
    ("    sources: {trending: 1}\n    promotions: [{start: someday}]\n", "/placements/p/promotions/0/start", "ISO 8601"),
    ("    sources: {trending: 1}\n    fairness: {min_exposure: {brand: {A: 0.7, B: 0.6}}}\n", "/placements/p/fairness/min_exposure/brand", "more than 1"),
    ("    sources: {trending: 1}\n    diversity: {by: colour}\n", "/placements/p/diversity/by", "categories"),
    ("    sources: {trending: 1}\n    diversity: {method: exact}\n", "/placements/p/diversity/method", "swap"),
    ("    sources: {trending: 1}\n    exclude_seen: maybe\n", "/placements/p/exclude_seen", "true or false"),
])
def test_each_error(snippet, field, fragment):
    errs = errors_of("placements:\n  p:\n" + snippet)
    assert any(f == field and fragment in r for f, r in errs), errs
    assert all("line " in r for _, r in errs)


def test_document_level_errors():
    assert errors_of("placements: [1]\n")[0][0] == "/placements"
    assert "not valid YAML" in errors_of("placements:\n  home: {sources: [\n")[0][1]
    assert "duplicate key 'home'" in errors_of("placements:\n  home: {}\n  home: {}\n")[0][1]
    assert "placement name" in errors_of("placements:\n  Home Page: {sources: {trending: 1}}\n")[0][1]
    assert load_placements("") == {}


def test_json_body_from_the_admin_api():
    p = placement_from_json("promo", {"sources": {"trending": 1}, "rules": [{"where": "price > 1"}]})
    assert p.name == "promo" and len(p.rules.filters) == 1
    with pytest.raises(ValidationFailed) as info:
        placement_from_json("promo", {"sources": {"trending": 1}, "rules": [{"where": "price >"}]})
    assert [(e.field, e.reason) for e in info.value.errors] == [("/rules/0/where", "unexpected end of expression at position 7")]


def test_log_impressions_flag():
    assert load_placements("placements:\n  p:\n    sources: {trending: 1}\n    log_impressions: true\n")["p"].log_impressions
    assert not load_placements("placements:\n  p:\n    sources: {trending: 1}\n")["p"].log_impressions
    with pytest.raises(ValidationFailed, match="must be true or false"):
        placement_from_json("p", {"sources": {"trending": 1}, "log_impressions": "yes"})
