"""serving.config_document: YAML with positions, and a checker that collects every error."""

from __future__ import annotations

import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.config_document import ConfigChecker, Marks, parse_yaml


def test_positions_of_nodes_and_quoted_scalars():
    doc, marks = parse_yaml("a:\n  b: 'x'\n  c: [1, 2]\n")
    assert doc == {"a": {"b": "x", "c": [1, 2]}}
    assert marks.at["/a/b"] == (2, 6) and marks.quoted["/a/b"]
    assert marks.where("/a/c/1").startswith("line 3, ")


@pytest.mark.parametrize("text, reason", [("a: [1, 2\n", "not valid YAML"), ("a: 1\na: 2\n", "duplicate key 'a'")])
def test_broken_documents_are_refused_with_a_line(text, reason):
    with pytest.raises(ValidationFailed) as info:
        parse_yaml(text)
    assert reason in str(info.value) and "line " in str(info.value)


def test_the_checker_collects_every_error():
    checker = ConfigChecker(Marks())
    assert checker.number("x", "/n") is None
    assert checker.number(5, "/m", lo=0, hi=1) is None
    assert checker.duration("30d", "/age") == 30 * 86400.0
    assert checker.duration("soon", "/age2") is None
    assert checker.mapping({"a": 1, "zz": 2}, "/doc", ("a",)) == {"a": 1, "zz": 2}
    assert [e.field for e in checker.errors] == ["/n", "/m", "/age2", "/doc/zz"]
