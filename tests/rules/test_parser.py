"""rules.parser: tokens, precedence, and errors that point at the offending position."""

from __future__ import annotations

import pytest

from tastemaker.rules.parser import ExpressionError, parse, tokenize


def test_tokens_keep_positions_and_units():
    toks = tokenize('age < 30d and "x y" in tags')
    assert [(t.kind, t.value, t.pos) for t in toks[:3]] == [("name", "age", 0), ("op", "<", 4), ("num", 30 * 86400.0, 6)]
    assert toks[4].value == "x y" and toks[4].pos == 14
    assert toks[-1].kind == "end"
    assert tokenize("1.5e2")[0].value == 150.0
    assert tokenize("2h")[0].value == 7200.0 and tokenize("3w")[0].value == 3 * 604800.0
    assert tokenize(r"'it\'s'")[0].value == "it's"


def test_precedence():
    tree = parse("a or b and not c")
    assert tree.op == "or" and tree.args[1].op == "and" and tree.args[1].args[1].op == "not"
    tree = parse("1 + 2 * 3 > 4")
    assert tree.op == ">" and tree.args[0].op == "+" and tree.args[0].args[1].op == "*"
    tree = parse("-(1 + 2)")
    assert tree.op == "neg" and tree.args[0].op == "+"
    assert parse("x not in [1, 2]").op == "not in"
    assert parse("f(1, g(2))").op == "call"
    assert parse("[]").op == "list" and parse("[-1, 2]").value == (-1.0, 2.0)


@pytest.mark.parametrize("text,position,fragment", [
    ("price >", 7, "unexpected end"),
    ("(price > 3", 10, "expected ')'"),
    ("price = 3", 6, "use '=='"),
    ("price > 3 && seen", 10, "use 'and'"),
    ('brand == "Acme', 9, "unterminated string"),
    ("price >> 3", 7, "unexpected '>'"),
    ("price < 3 < 4", 10, "cannot be chained"),
    ("price 3", 6, "unexpected '3'"),
    ("[1, 'a']", 0, "mixes numbers and strings"),
    ("[1 2]", 3, "expected ',' or ']'"),
    ("[price]", 1, "only numbers or strings"),
    ("", 0, "empty"),
    ("and", 0, "unexpected 'and'"),
    ("price # 3", 6, "unexpected character '#'"),
])
def test_errors_name_the_position(text, position, fragment):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.position == position
    assert fragment in info.value.message
    assert f"at position {position}" in str(info.value)
    assert info.value.pointer().splitlines()[1] == " " * position + "^"


def test_limits():
    with pytest.raises(ExpressionError, match="longer than"):
        parse("1 + " * 1000 + "1")
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse("(" * 100 + "1" + ")" * 100)
