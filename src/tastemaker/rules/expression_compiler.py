"""The compiler of item rule expressions (:mod:`tastemaker.rules.expressions`): names and their
types, functions, and the type-checking walk of a parse tree into closures over a
:class:`~tastemaker.rules.env.RuleEnv` that return one value per candidate (numpy arrays)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tastemaker.rules.env import RuleEnv
from tastemaker.rules.parser import ExpressionError, Node

NUM, BOOL, STR, SET, PROP, CTX, LSTR, LIST = (
    "number", "condition", "string", "set", "property", "context", "quoted string", "list")

NAMES: dict[str, str] = {
    "price": NUM, "margin": NUM, "stock": NUM, "created_at": NUM, "age": NUM, "score": NUM,
    "popularity": NUM, "trending": NUM,
    "available": BOOL, "purchased": BOOL, "seen": BOOL,
    "brand": STR, "source": STR, "id": STR,
    "category": SET, "categories": SET, "tags": SET,
}
_FUNCS_NUM = {"abs": (1, np.abs), "log1p": (1, np.log1p), "sqrt": (1, np.sqrt), "min": (2, np.minimum),
              "max": (2, np.maximum), "clip": (3, np.clip)}


# -- compiler -----------------------------------------------------------------------------

Fn = Callable[[RuleEnv], Any]


@dataclass(frozen=True, slots=True)
class _Typed:
    type: str
    fn: Fn | None  # None for literals (value holds them) and for properties (resolved by use)
    value: Any = None
    name: str = ""


def _const(v: Any) -> Fn:
    return lambda env: v


def _context_number(value: Any) -> float:
    """A context value as a number (``"18"`` or ``18``); NaN when it is none (no comparison holds)."""
    if value is None:
        return float("nan")
    try:
        return float(value)  # a bool is 1.0 or 0.0
    except (TypeError, ValueError):
        return float("nan")


def _context_truthy(value: Any) -> bool:
    """A context value as a condition: True, or a string/number other than false/0/no/empty."""
    if isinstance(value, str):
        return value.lower() not in ("", "0", "false", "no")
    return bool(value)


class ItemExpressionCompiler:
    """Type-checks a parse tree over the candidate items and compiles it to vectorised closures."""

    def __init__(self, text: str):
        self.text = text
        self.names: set[str] = set()

    def error(self, message: str, node: Node) -> ExpressionError:
        return ExpressionError(message, node.pos, self.text)

    def compile(self, node: Node) -> _Typed:
        op = node.op
        if op == "lit":
            v = node.value
            if isinstance(v, bool):
                return _Typed(BOOL, _const(v), v)
            if isinstance(v, str):
                return _Typed(LSTR, None, v)
            return _Typed(NUM, _const(v), v)
        if op == "list":
            return _Typed(LIST, None, node.value)
        if op == "name":
            return self.name(node)
        if op == "call":
            return self.call(node)
        if op == "neg":
            a = self.number(node.args[0])
            return _Typed(NUM, lambda env: -a(env))
        if op == "not":
            a = self.condition(node.args[0])
            return _Typed(BOOL, lambda env: ~np.asarray(a(env), bool))
        if op in ("and", "or"):
            a, b = self.condition(node.args[0]), self.condition(node.args[1])
            if op == "and":
                return _Typed(BOOL, lambda env: np.logical_and(a(env), b(env)))
            return _Typed(BOOL, lambda env: np.logical_or(a(env), b(env)))
        if op in ("+", "-", "*", "/", "%"):
            return self.arithmetic(node)
        if op in ("==", "!="):
            return self.equality(node)
        if op in ("<", "<=", ">", ">="):
            a, b = self.number(node.args[0]), self.number(node.args[1])
            f = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}[op]
            return _Typed(BOOL, lambda env: f(a(env), b(env)))
        if op in ("in", "not in"):
            t = self.membership(node)
            if op == "in":
                return t
            g = t.fn
            return _Typed(BOOL, lambda env: ~np.asarray(g(env), bool))
        raise self.error(f"unsupported operator '{op}'", node)  # pragma: no cover

    # names and calls
    def name(self, node: Node) -> _Typed:
        name: str = node.value
        if name.startswith("properties."):
            self.names.add(name)
            return _Typed(PROP, None, name=name)
        if name == "user.segments":  # the requesting user's segments: one value for every candidate
            self.names.add(name)
            return _Typed(SET, None, name=name)
        if name.startswith("context."):
            self.names.add(name)
            key = name[len("context."):]
            return _Typed(CTX, lambda env: env.context.get(key), name=name)
        kind = NAMES.get(name)
        if kind is None:
            known = ", ".join(sorted(NAMES))
            raise self.error(f"unknown name '{name}' (known: {known}, properties.NAME, context.NAME, user.segments)",
                             node)
        self.names.add(name)
        if kind == NUM:
            return _Typed(NUM, lambda env: env.column(name), name=name)
        if name == "available":
            return _Typed(BOOL, lambda env: env.available(), name=name)
        if name in ("purchased", "seen"):
            def user_set(env: RuleEnv) -> np.ndarray:
                user = env.user
                return env.members(getattr(user, name)) if user is not None else np.zeros(len(env), bool)
            return _Typed(BOOL, user_set, name=name)
        return _Typed(kind, None, name=name)

    def call(self, node: Node) -> _Typed:
        fname = node.value
        if fname == "missing":
            if len(node.args) != 1:
                raise self.error("missing() takes one argument", node)
            arg = self.compile(node.args[0])
            return _Typed(BOOL, self.missing(arg, node.args[0]))
        spec = _FUNCS_NUM.get(fname)
        if spec is None:
            known = ", ".join(sorted([*_FUNCS_NUM, "missing"]))
            raise self.error(f"unknown function '{fname}' (known: {known})", node)
        arity, f = spec
        if len(node.args) != arity:
            raise self.error(f"{fname}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}", node)
        args = [self.number(a) for a in node.args]
        if arity == 1:
            a = args[0]
            if fname in ("log1p", "sqrt"):
                def guarded(env: RuleEnv) -> Any:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        return f(a(env))
                return _Typed(NUM, guarded)
            return _Typed(NUM, lambda env: f(a(env)))
        if arity == 2:
            a, b = args
            return _Typed(NUM, lambda env: f(a(env), b(env)))
        a, b, c = args
        return _Typed(NUM, lambda env: f(a(env), b(env), c(env)))

    def missing(self, arg: _Typed, node: Node) -> Fn:
        if arg.type == NUM and arg.name:
            fn = arg.fn
            return lambda env: np.isnan(fn(env))
        if arg.type == PROP:
            name, key = arg.name, arg.name[len("properties."):]

            def prop_missing(env: RuleEnv) -> np.ndarray:
                out = np.isnan(env.column(name))
                for (prop, _), members in env.catalog.value_members.items():
                    if prop == key and members:
                        out &= ~env.members(members)
                return out
            return prop_missing
        if arg.type == STR and arg.name == "brand":
            return lambda env: ~env.members(env.catalog.brands)
        if arg.type == SET and arg.name == "user.segments":
            raise self.error("missing() needs a property; for segments use 'not (\"name\" in user.segments)'", node)
        if arg.type == SET:
            table = "categories" if arg.name.startswith("categor") else "tags"
            return lambda env: ~env.members(getattr(env.catalog, table))
        if arg.type == CTX:
            fn = arg.fn
            return lambda env: fn(env) is None
        raise self.error(f"missing() needs a property, not a {arg.type}", node)

    # type coercions
    def number(self, node: Node) -> Fn:
        t = self.compile(node)
        if t.type == NUM:
            return t.fn  # type: ignore[return-value]
        if t.type == PROP:
            name = t.name
            return lambda env: env.column(name)
        if t.type == CTX:  # a numeric context value (context.hour): the same for every candidate
            get = t.fn
            return lambda env: np.full(len(env), _context_number(get(env)))  # type: ignore[misc]
        raise self.error(f"expected a number, found a {t.type}", node)

    def condition(self, node: Node) -> Fn:
        t = self.compile(node)
        if t.type == BOOL:
            return t.fn  # type: ignore[return-value]
        if t.type == PROP:  # a boolean property: true when present and non-zero
            name = t.name

            def truthy(env: RuleEnv) -> np.ndarray:
                col = env.column(name)
                return ~np.isnan(col) & (col != 0)
            return truthy
        if t.type == CTX:  # context.is_holiday: true when set and not false/0/""
            get = t.fn
            return lambda env: np.full(len(env), _context_truthy(get(env)))  # type: ignore[misc]
        raise self.error(f"expected a condition, found a {t.type}", node)

    def arithmetic(self, node: Node) -> _Typed:
        a, b = self.number(node.args[0]), self.number(node.args[1])
        op = node.op
        if op == "+":
            return _Typed(NUM, lambda env: a(env) + b(env))
        if op == "-":
            return _Typed(NUM, lambda env: a(env) - b(env))
        if op == "*":
            return _Typed(NUM, lambda env: a(env) * b(env))
        f = np.true_divide if op == "/" else np.fmod

        def divide(env: RuleEnv) -> Any:
            with np.errstate(divide="ignore", invalid="ignore"):
                return f(a(env), b(env))
        return _Typed(NUM, divide)

    # string-valued comparisons
    def member_of(self, t: _Typed, value: str, node: Node) -> Fn:
        """Mask of candidates whose string/set-valued ``t`` equals/contains ``value``."""
        name = t.name
        if t.type == CTX:
            get = t.fn
            return lambda env: get(env) == value  # type: ignore[misc]
        if name == "brand":
            return lambda env: env.group_codes("brand") == env.catalog.brand_ids.get(value, -2)
        if name == "user.segments":
            return lambda env: np.full(len(env), value in env.user_segments())
        if name in ("category", "categories"):
            return lambda env: env.members(env.catalog.category_members.get(value, ()))
        if name == "tags":
            return lambda env: env.members(env.catalog.tag_members.get(value, ()))
        if name == "source":
            return lambda env: (np.zeros(len(env), bool) if env.sources is None
                                else np.asarray(env.sources == value, dtype=bool))

        if name == "id":
            def same_id(env: RuleEnv) -> np.ndarray:
                pos = env.catalog.index.get(value)
                return np.zeros(len(env), bool) if pos is None else env.items == pos
            return same_id
        if t.type == PROP:
            key = (name[len("properties."):], value)
            return lambda env: env.members(env.catalog.value_members.get(key, ()))
        raise self.error(f"cannot compare a {t.type} with a string", node)  # pragma: no cover

    def equality(self, node: Node) -> _Typed:
        left, right = self.compile(node.args[0]), self.compile(node.args[1])
        if left.type == LSTR and right.type != LSTR:
            left, right = right, left
        negate = node.op == "!="
        if right.type == LSTR and left.type in (STR, SET, PROP, CTX):
            fn = self.member_of(left, right.value, node)
        elif left.type in (NUM, PROP) and right.type in (NUM, PROP):
            a, b = self.number(node.args[0]), self.number(node.args[1])
            fn = lambda env: np.equal(a(env), b(env))  # noqa: E731
        elif left.type == BOOL and right.type == BOOL:
            a, b = left.fn, right.fn
            fn = lambda env: np.equal(a(env), b(env))  # noqa: E731
        else:
            raise self.error(f"cannot compare a {left.type} with a {right.type}", node)
        if negate:
            g = fn
            return _Typed(BOOL, lambda env: ~np.asarray(g(env), bool))
        return _Typed(BOOL, fn)

    def membership(self, node: Node) -> _Typed:
        left, right = self.compile(node.args[0]), self.compile(node.args[1])
        if left.type == LSTR and right.type in (SET, PROP):
            return _Typed(BOOL, self.member_of(right, left.value, node))
        if right.type != LIST:
            raise self.error(f"'in' needs a list on the right (or a string in a set), found a {right.type}", node.args[1])
        values = right.value
        if not values:
            return _Typed(BOOL, lambda env: np.zeros(len(env), bool))
        if isinstance(values[0], str) and left.type in (STR, SET, PROP, CTX):
            parts = [self.member_of(left, v, node) for v in values]
            if left.type == CTX:
                get, wanted = left.fn, frozenset(values)
                return _Typed(BOOL, lambda env: get(env) in wanted)  # type: ignore[misc]

            def any_of(env: RuleEnv) -> np.ndarray:
                out = np.asarray(parts[0](env), bool)
                for p in parts[1:]:
                    out = out | p(env)
                return out
            return _Typed(BOOL, any_of)
        if not isinstance(values[0], str) and left.type in (NUM, PROP):
            a = self.number(node.args[0])
            arr = np.asarray(values, np.float64)
            return _Typed(BOOL, lambda env: np.isin(a(env), arr))
        kind = "strings" if isinstance(values[0], str) else "numbers"
        raise self.error(f"cannot look up a {left.type} in a list of {kind}", node)
