"""schema.field_checker: every error is collected with its pointer and place; readers return
None (or an empty string) for what they refused."""

from __future__ import annotations

import math

import pytest

from tastemaker.schema.field_checker import FieldChecker


def reasons(c: FieldChecker) -> list[tuple[str, str]]:
    return [(e.field, e.reason) for e in c.errors]


@pytest.mark.parametrize("bad", ["1", True, math.nan, math.inf, None])
def test_a_number_must_be_a_finite_number(bad):
    c = FieldChecker()
    assert c.number(bad, "/x", 0, 10) is None
    assert reasons(c) == [("/x", "must be a number")]


def test_numbers_in_range_integers_and_defaults():
    c = FieldChecker()
    assert c.number(3, "/a", 0, 10) == 3 and c.number(None, "/b", default=0.5) == 0.5
    assert c.number(11, "/c", 0, 10) is None and c.number(2.5, "/d", integer=True) is None
    assert reasons(c) == [("/c", "must be between 0 and 10"), ("/d", "must be an integer")]


def test_the_place_and_offset_prefix_each_reason():
    c = FieldChecker(lambda path, offset: f"{path} at +{offset}: ")
    c.fail("/rule", "bad", offset=4)
    assert reasons(c) == [("/rule", "/rule at +4: bad")]


def test_mappings_refuse_other_values_and_name_unknown_keys():
    c = FieldChecker()
    assert c.mapping([1], "/m", ("a",)) is None
    assert c.mapping({"a": 1, "z": 2}, "/n", ("a", "b")) == {"a": 1, "z": 2}
    assert reasons(c) == [("/m", "must be an object"), ("/n/z", "unknown field 'z' (allowed: a, b)")]


def test_a_subclass_names_its_own_container():
    class YamlChecker(FieldChecker):
        not_a_mapping = "must be a mapping"

    c = YamlChecker()
    c.mapping("x", "/p", ())
    assert reasons(c) == [("/p", "must be a mapping")]


def test_text_and_choices():
    c = FieldChecker()
    assert c.text("ok", "/t") == "ok" and c.text("x" * 5, "/u", limit=4) == "" and c.text(3, "/v") == ""
    assert c.choice("b", "/c", ("a", "b")) == "b" and c.choice("z", "/d", ("a", "b")) is None
    assert reasons(c) == [("/u", "must be a string of at most 4 characters"),
                          ("/v", "must be a string of at most 1000 characters"), ("/d", "must be one of: a, b")]
