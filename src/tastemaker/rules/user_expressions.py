"""Segment expressions: the rules' expression language over one user instead of candidates.

The same grammar and parser as :mod:`tastemaker.rules.expressions` (errors name the 0-based
position of the offending token), compiled into a closure over a *lookup*: a function from a
dotted name to the user's value, None when unknown. Names:

* ``user.NAME`` -- numbers: ``event_count``, ``first_seen``, ``last_seen`` (epoch seconds),
  ``recency`` and ``tenure`` (seconds), ``active_days``, ``orders``, ``revenue``,
  ``n_purchased``, ``n_seen``, ``churn_probability``, ``clv``; a string: ``lifecycle``
  (new, active, reactivated, at_risk, churned); a set: ``segments`` (built-in and predictive
  segments: ``"buyer" in user.segments``);
* ``events.TYPE`` -- how many events of that type (``events.purchase >= 2``);
* ``rfm.recency``, ``rfm.frequency``, ``rfm.monetary`` -- quintile scores 1..5;
* ``features.NAME`` -- a number from the feature registry (windowed counts, rates);
* ``traits.NAME`` -- a stored user trait, ``context.NAME`` -- a request context value
  (string, number or boolean: the value decides).

A missing value makes every comparison false (``not (traits.age > 30)`` holds for a user
without an age), as in item rules. Durations take units: ``user.recency > 14d``.

>>> expr = compile_user_expression('user.orders >= 2 and traits.country in ["FR", "DE"] and user.recency < 7d')
>>> expr({"user.orders": 3, "traits.country": "FR", "user.recency": 3600.0}.get)
True
>>> expr({"user.orders": 3, "user.recency": 3600.0}.get)   # no country trait
False
>>> try:
...     compile_user_expression("user.orders >= 'two'")
... except ExpressionError as e:
...     print(e)
expected a number, found a quoted string at position 15
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tastemaker.rules.parser import ExpressionError, Node, parse

__all__ = ["UserExpression", "compile_user_expression", "USER_NAMES", "NAMESPACES", "ExpressionError"]

NUM, BOOL, STR, SET, DYN, LSTR, LIST = "number", "condition", "string", "set", "value", "quoted string", "list"
USER_NAMES: dict[str, str] = {
    **{n: NUM for n in ("event_count", "first_seen", "last_seen", "recency", "tenure", "active_days", "orders",
                        "revenue", "n_purchased", "n_seen", "churn_probability", "clv")},
    "lifecycle": STR, "segments": SET,
}
RFM_NAMES = ("recency", "frequency", "monetary")
NAMESPACES = ("user", "events", "rfm", "features", "traits", "context")
Lookup = Callable[[str], Any]
Fn = Callable[[Lookup], Any]
_FUNCS = {"abs": (1, abs), "log1p": (1, math.log1p), "sqrt": (1, math.sqrt), "min": (2, min), "max": (2, max),
          "clip": (3, lambda x, lo, hi: min(max(x, lo), hi))}
_CMP = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _num(v: Any) -> float | None:
    """A number, or None (missing, NaN, or not a number; booleans are not numbers)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        return None
    return float(v)


def _arith(op: str, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    try:
        return {"+": a + b, "-": a - b, "*": a * b}[op] if op in "+-*" else (a / b if op == "/" else math.fmod(a, b))
    except (ZeroDivisionError, ValueError):
        return None


class _Compiler:
    def __init__(self, text: str):
        self.text = text
        self.names: set[str] = set()

    def error(self, message: str, node: Node) -> ExpressionError:
        return ExpressionError(message, node.pos, self.text)

    def compile(self, node: Node) -> tuple[str, Fn | Any]:
        """(type, closure) -- or (type, value) for literals and lists."""
        op = node.op
        if op == "lit":
            v = node.value
            return (BOOL, lambda s: v) if isinstance(v, bool) else (LSTR, v) if isinstance(v, str) else (NUM, lambda s: v)
        if op == "list":
            return LIST, node.value
        if op == "name":
            return self.name(node)
        if op == "call":
            return self.call(node)
        if op == "neg":
            a = self.number(node.args[0])
            return NUM, lambda s: None if (x := a(s)) is None else -x
        if op == "not":
            a = self.condition(node.args[0])
            return BOOL, lambda s: not a(s)
        if op in ("and", "or"):
            a, b = self.condition(node.args[0]), self.condition(node.args[1])
            return BOOL, (lambda s: a(s) and b(s)) if op == "and" else (lambda s: a(s) or b(s))
        if op in ("+", "-", "*", "/", "%"):
            a, b = self.number(node.args[0]), self.number(node.args[1])
            return NUM, lambda s: _arith(op, a(s), b(s))
        if op in _CMP:
            a, b, f = self.number(node.args[0]), self.number(node.args[1]), _CMP[op]
            return BOOL, lambda s: (x := a(s)) is not None and (y := b(s)) is not None and f(x, y)
        if op in ("==", "!="):
            fn = self.equality(node)
            return BOOL, (fn if op == "==" else lambda s: not fn(s))
        if op in ("in", "not in"):
            fn = self.membership(node)
            return BOOL, (fn if op == "in" else lambda s: not fn(s))
        raise self.error(f"unsupported operator '{op}'", node)  # pragma: no cover

    def name(self, node: Node) -> tuple[str, Fn]:
        name: str = node.value
        space, _, key = name.partition(".")
        if space not in NAMESPACES or not key:
            raise self.error(f"unknown name '{name}' (names are NAMESPACE.NAME, namespaces: {', '.join(NAMESPACES)})",
                             node)
        if space == "user" and key not in USER_NAMES:
            raise self.error(f"unknown name '{name}' (user.NAME: {', '.join(sorted(USER_NAMES))})", node)
        if space == "rfm" and key not in RFM_NAMES:
            raise self.error(f"unknown name '{name}' (rfm.NAME: {', '.join(RFM_NAMES)})", node)
        self.names.add(name)
        kind = USER_NAMES[key] if space == "user" else NUM if space in ("events", "rfm", "features") else DYN
        return kind, lambda s: s(name)

    def call(self, node: Node) -> tuple[str, Fn]:
        fname = node.value
        if fname == "missing":
            if len(node.args) != 1 or node.args[0].op != "name":
                raise self.error("missing() takes one name", node)
            _, get = self.name(node.args[0])
            return BOOL, lambda s: (v := get(s)) is None or v != v
        spec = _FUNCS.get(fname)
        if spec is None:
            raise self.error(f"unknown function '{fname}' (known: {', '.join(sorted([*_FUNCS, 'missing']))})", node)
        arity, f = spec
        if len(node.args) != arity:
            raise self.error(f"{fname}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}", node)
        args = [self.number(a) for a in node.args]

        def call(s: Lookup) -> float | None:
            values = [a(s) for a in args]
            if any(v is None for v in values):
                return None
            try:
                return float(f(*values))
            except ValueError:  # sqrt of a negative number: missing, like NaN in item rules
                return None
        return NUM, call

    def number(self, node: Node) -> Fn:
        kind, fn = self.compile(node)
        if kind == NUM:
            return lambda s: _num(fn(s))
        if kind == DYN:
            return lambda s: _num(fn(s))
        raise self.error(f"expected a number, found a {kind}", node)

    def condition(self, node: Node) -> Fn:
        kind, fn = self.compile(node)
        if kind == BOOL:
            return fn
        if kind == DYN:  # a boolean trait: true when present and truthy
            return lambda s: (v := fn(s)) is not None and v == v and bool(v)
        raise self.error(f"expected a condition, found a {kind}", node)

    def equality(self, node: Node) -> Fn:
        (lk, lf), (rk, rf) = self.compile(node.args[0]), self.compile(node.args[1])
        if lk == LSTR and rk != LSTR:
            (lk, lf), (rk, rf) = (rk, rf), (lk, lf)
        if rk == LSTR and lk in (STR, DYN):
            return lambda s: lf(s) == rf
        if rk == LSTR and lk == SET:
            raise self.error(f"a set is not equal to a string: use {rf!r} in the set", node)
        if lk in (NUM, DYN) and rk in (NUM, DYN) and NUM in (lk, rk):
            a, b = self.number(node.args[0]), self.number(node.args[1])
            return lambda s: (x := a(s)) is not None and x == b(s)
        if lk in (BOOL, DYN) and rk in (BOOL, DYN):
            return lambda s: (x := lf(s)) is not None and x == rf(s)
        raise self.error(f"cannot compare a {lk} with a {rk}", node)

    def membership(self, node: Node) -> Fn:
        (lk, lf), (rk, rf) = self.compile(node.args[0]), self.compile(node.args[1])
        if lk == LSTR and rk in (SET, DYN):
            return lambda s: (v := rf(s)) is not None and isinstance(v, (set, frozenset, list, tuple)) and lf in v
        if rk != LIST:
            raise self.error(f"'in' needs a list on the right (or a string in a set), found a {rk}", node.args[1])
        wanted = frozenset(rf)
        if lk in (STR, DYN) and all(isinstance(v, str) for v in wanted):
            return lambda s: isinstance(v := lf(s), str) and v in wanted
        if lk in (NUM, DYN) and not any(isinstance(v, str) for v in wanted):
            num = self.number(node.args[0])
            return lambda s: num(s) in wanted
        raise self.error(f"cannot look up a {lk} in this list", node)


class UserExpression:
    """A compiled expression: call it with a lookup for True/False (a condition) or a float,
    None when missing (a number)."""

    __slots__ = ("source", "names", "kind", "_fn")

    def __init__(self, source: str, names: frozenset[str], fn: Fn, kind: str = BOOL):
        self.source, self.names, self.kind, self._fn = source, names, kind, fn

    def __call__(self, lookup: Lookup) -> Any:
        out = self._fn(lookup)
        return bool(out) if self.kind == BOOL else out

    def __repr__(self) -> str:
        return f"UserExpression({self.source!r})"


def compile_user_expression(text: str, kind: str = BOOL) -> UserExpression:
    """Parse, type-check and compile a condition (``kind="condition"``) or a number
    (``"number"``, e.g. ``0.05 + 0.2 * user.churn_probability``); :class:`ExpressionError`
    names the position.

    >>> compile_user_expression("user.clv * 0.1", "number")({"user.clv": 250.0}.get)
    25.0
    """
    if kind not in (BOOL, NUM):
        raise ValueError(f"kind must be {BOOL!r} or {NUM!r}")
    compiler = _Compiler(text)
    tree = parse(text)
    fn = compiler.condition(tree) if kind == BOOL else compiler.number(tree)
    return UserExpression(text, frozenset(compiler.names), fn, kind)
