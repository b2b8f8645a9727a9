"""serving.rule_config: rules and promotions from a placement document, errors with positions."""

from __future__ import annotations

import math

from tastemaker.rules.schedule import ALWAYS
from tastemaker.serving.config_document import ConfigChecker, Marks, parse_yaml
from tastemaker.serving.rule_config import promotions_from_config, rules_from_config


def _out() -> dict[str, list]:
    return {"filters": [], "boosts": [], "pins": [], "caps": [], "margin": []}


def test_each_rule_kind_lands_in_its_list():
    doc, marks = parse_yaml("""
rules:
  - filter: in_stock
  - boost: 'price > 10'
    factor: 2
  - pin: sku-1
    position: 1
  - cap: brand
    max: 2
""")
    checker, out = ConfigChecker(marks), _out()
    rules_from_config(checker, doc["rules"], "/rules", ALWAYS, out)
    assert checker.errors == []
    assert [len(out[k]) for k in ("filters", "boosts", "pins", "caps")] == [1, 1, 1, 1]


def test_a_bad_rule_names_its_pointer_and_line():
    doc, marks = parse_yaml("rules:\n  - boost: 'price >> 2'\n  - frobnicate: 1\n")
    checker = ConfigChecker(marks)
    rules_from_config(checker, doc["rules"], "/rules", ALWAYS, _out())
    fields = [e.field for e in checker.errors]
    assert fields[0] == "/rules/0/boost" and "line 2" in checker.errors[0].reason
    assert "/rules/1" in fields


def test_promotions_are_scheduled_and_named_after_their_campaign():
    doc, marks = parse_yaml("""
promotions:
  - name: xmas
    start: 2024-12-01T00:00:00Z
    end: 2024-12-27T00:00:00Z
    rules: [{boost: '"xmas" in tags', factor: 2}]
""")
    checker, out = ConfigChecker(marks), _out()
    promotions_from_config(checker, doc["promotions"], "/promotions", out)
    assert checker.errors == []
    (boost,) = out["boosts"]
    assert boost.name.startswith("xmas/")
    assert boost.schedule.start < boost.schedule.end < math.inf


def test_an_end_before_the_start_is_refused():
    checker = ConfigChecker(Marks())
    promotions_from_config(checker, [{"name": "x", "start": "2024-12-27T00:00:00Z", "end": "2024-12-01T00:00:00Z",
                                      "rules": []}], "/promotions", _out())
    assert [e.field for e in checker.errors] == ["/promotions/0/end"]
