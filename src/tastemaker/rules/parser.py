"""Tokeniser and Pratt parser of rule expressions (see :mod:`tastemaker.rules.expressions`).

Every token and tree node keeps its 0-based position in the source text, so errors can
point at the offending column: ``ExpressionError.position``.

>>> parse("price > 10 and not seen").op
'and'
>>> try:
...     parse("price >> 3")
... except ExpressionError as e:
...     print(e); print(e.pointer())
unexpected '>' at position 7
price >> 3
       ^
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 2000
MAX_DEPTH = 64
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}

class ExpressionError(ValueError):
    """A parse or type error; ``position`` is the 0-based offset of the offending token."""

    def __init__(self, message: str, position: int, expression: str = ""):
        super().__init__(f"{message} at position {position}")
        self.message, self.position, self.expression = message, position, expression

    def pointer(self) -> str:
        """The expression with a caret under the offending token (for messages)."""
        return f"{self.expression}\n{' ' * self.position}^"


# -- tokens -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num, str, name, op, end
    value: Any
    pos: int


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(?P<unit>[smhdw](?![\w.]))?
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|%|\(|\)|\[|\]|,)
""", re.VERBOSE)
_ESCAPES = re.compile(r"\\(.)")


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``, ending with an ``end`` token; raises :class:`ExpressionError`."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = {"=": "; use '=='", "&": "; use 'and'", "|": "; use 'or'", "!": "; use 'not' or '!='"}.get(ch, "")
            if ch in "\"'":
                raise ExpressionError("unterminated string", pos, text)
            raise ExpressionError(f"unexpected character {ch!r}{hint}", pos, text)
        kind = m.lastgroup if m.lastgroup != "unit" else "num"
        if kind == "num":
            value = float(m.group("num")) * UNITS.get(m.group("unit") or "", 1.0)
            out.append(Token("num", value, pos))
        elif kind == "str":
            out.append(Token("str", _ESCAPES.sub(r"\1", m.group("str")[1:-1]), pos))
        elif kind == "name":
            out.append(Token("name", m.group("name"), pos))
        elif kind == "op":
            out.append(Token("op", m.group("op"), pos))
        pos = m.end()
    out.append(Token("end", None, len(text)))
    return out


# -- parser -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Node:
    op: str  # lit, list, name, call, neg, not, and, or, ==, <, in, not in, +, ...
    pos: int
    value: Any = None
    args: tuple[Node, ...] = ()


_COMPARE = {"==", "!=", "<", "<=", ">", ">="}
_BINDING = {"or": 10, "and": 20, **{c: 40 for c in _COMPARE}, "in": 40, "not in": 40,
            "+": 50, "-": 50, "*": 60, "/": 60, "%": 60}
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def error(self, message: str, tok: Token) -> ExpressionError:
        return ExpressionError(message, tok.pos, self.text)

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def infix(self) -> str | None:
        tok = self.peek()
        if tok.kind == "op" and tok.value in _BINDING:
            return tok.value
        if tok.kind == "name" and tok.value in ("and", "or", "in"):
            return tok.value
        if tok.kind == "name" and tok.value == "not" and self.peek(1).kind == "name" and self.peek(1).value == "in":
            return "not in"
        return None

    def parse(self) -> Node:
        node = self.expr(0)
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(f"unexpected {_describe(tok)}", tok)
        return node

    def expr(self, rbp: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("expression nested too deeply", self.peek())
        left = self.prefix()
        while True:
            op = self.infix()
            if op is None or _BINDING[op] <= rbp:
                break
            tok = self.next()
            if op == "not in":
                self.next()
            right = self.expr(_BINDING[op])
            left = Node(op, tok.pos, None, (left, right))
            if _BINDING[op] == 40 and self.infix() in _COMPARE | {"in", "not in"}:
                raise self.error("comparisons cannot be chained; use 'and'", self.peek())
        self.depth -= 1
        return left

    def prefix(self) -> Node:
        tok = self.next()
        if tok.kind == "num":
            return Node("lit", tok.pos, tok.value)
        if tok.kind == "str":
            return Node("lit", tok.pos, tok.value)
        if tok.kind == "op" and tok.value == "-":
            return Node("neg", tok.pos, None, (self.expr(70),))
        if tok.kind == "op" and tok.value == "(":
            inner = self.expr(0)
            self.expect(")", tok)
            return inner
        if tok.kind == "op" and tok.value == "[":
            return self.literal_list(tok)
        if tok.kind == "name":
            if tok.value in ("true", "false"):
                return Node("lit", tok.pos, tok.value == "true")
            if tok.value == "not":
                return Node("not", tok.pos, None, (self.expr(30),))
            if tok.value in _KEYWORDS:
                raise self.error(f"unexpected '{tok.value}'", tok)
            if self.peek().kind == "op" and self.peek().value == "(":
                open_tok = self.next()
                args: list[Node] = []
                if not (self.peek().kind == "op" and self.peek().value == ")"):
                    args.append(self.expr(0))
                    while self.peek().kind == "op" and self.peek().value == ",":
                        self.next()
                        args.append(self.expr(0))
                self.expect(")", open_tok)
                return Node("call", tok.pos, tok.value, tuple(args))
            return Node("name", tok.pos, tok.value)
        if tok.kind == "end":
            raise self.error("unexpected end of expression", tok)
        raise self.error(f"unexpected {_describe(tok)}", tok)

    def literal_list(self, open_tok: Token) -> Node:
        values: list[Any] = []
        while not (self.peek().kind == "op" and self.peek().value == "]"):
            tok = self.next()
            negative = tok.kind == "op" and tok.value == "-" and self.peek().kind == "num"
            if negative:
                tok = self.next()
            if tok.kind not in ("num", "str"):
                raise self.error("a list holds only numbers or strings", tok)
            values.append(-tok.value if negative else tok.value)
            if self.peek().kind == "op" and self.peek().value == ",":
                self.next()
            elif not (self.peek().kind == "op" and self.peek().value == "]"):
                raise self.error(f"expected ',' or ']' but found {_describe(self.peek())}", self.peek())
        self.next()
        if values and len({type(v) for v in values}) > 1:
            raise self.error("a list mixes numbers and strings", open_tok)
        return Node("list", open_tok.pos, tuple(values))

    def expect(self, op: str, opened: Token) -> None:
        tok = self.next()
        if not (tok.kind == "op" and tok.value == op):
            raise self.error(f"expected '{op}' to close '{opened.value}' at position {opened.pos}, "
                             f"found {_describe(tok)}", tok)


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "end of expression"
    if tok.kind == "str":
        return f"string {tok.value!r}"
    return f"'{tok.value:g}'" if tok.kind == "num" else f"'{tok.value}'"


def parse(text: str) -> Node:
    """The syntax tree of ``text``; raises :class:`ExpressionError` with the position."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH, text[:MAX_LENGTH])
    if not text.strip():
        raise ExpressionError("empty expression", 0, text)
    return _Parser(text).parse()
