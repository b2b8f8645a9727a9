"""Rule expressions: a small, safe language over item properties, evaluated on numpy columns.

Expressions are tokenised and parsed (a Pratt parser) into a tree, type-checked, and
compiled into closures over :class:`~tastemaker.rules.env.RuleEnv` columns: one numpy
operation per node over all candidates, never ``eval`` and never a Python loop per item
(membership tests are one set lookup per candidate). Errors name the 0-based position of the
offending token: ``ExpressionError.position``.

Grammar (lowest precedence first)::

    expr    := expr 'or' expr | expr 'and' expr | 'not' expr
             | sum (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') sum)?
    sum     := sum ('+' | '-') term | term ;  term := term ('*' | '/' | '%') unary
    unary   := '-' unary | atom
    atom    := NUMBER [unit s|m|h|d|w] | STRING | 'true' | 'false' | '[' literals ']'
             | NAME | NAME '(' args ')' | '(' expr ')'

Names: ``price margin stock created_at age score popularity trending`` (numbers; ``age``
is seconds since ``created_at``, so ``age < 30d`` reads naturally), ``available purchased
seen`` (conditions; the last two from the user's history), ``brand source id`` (strings),
``category``/``categories`` and ``tags`` (sets: ``"sale" in tags``, ``category == "shoes"``
means "has category shoes", ``categories in ["a", "b"]`` means "has any of"),
``properties.NAME`` (a free item property: a number, a boolean, a string or a list of
strings; its use decides which), ``context.NAME`` (a request context value: a string, or a number or condition where the use needs one,
e.g. ``context.hour >= 18``, ``context.is_holiday``; derived fields in features.context),
``user.segments`` (the requesting user's segments, a set: ``"vip" in user.segments``).
Functions: ``abs min max log1p sqrt clip(x, lo, hi) missing(x)``.

Missing values are NaN: every comparison with a missing number is false (so ``not (price
> 10)`` keeps items without a price).

>>> from tastemaker.features.catalog import CatalogView
>>> from tastemaker.features.item_index import ItemIndex
>>> from tastemaker.rules.env import RuleEnv
>>> from tastemaker.schema.records import Item
>>> cat = CatalogView(ItemIndex())
>>> for i, p in enumerate([5.0, 50.0, 500.0]):
...     _ = cat.upsert(Item(id=f"i{i}", price=p, tags=["sale"] if i else [], brand="Acme"))
>>> expr = compile_expression('price >= 10 and "sale" in tags and brand != "Other"')
>>> expr(RuleEnv(cat, np.arange(3), now=0.0)).tolist()
[False, True, True]
>>> try:
...     compile_expression("price > 3 and brand > 2")
... except ExpressionError as e:
...     print(e)
expected a number, found a string at position 14
"""

from __future__ import annotations

import numpy as np

from tastemaker.rules.env import RuleEnv
from tastemaker.rules.expression_compiler import BOOL, NAMES, NUM, Fn, ItemExpressionCompiler
from tastemaker.rules.parser import ExpressionError, parse

__all__ = ["Expression", "ExpressionError", "compile_expression", "NAMES"]


class Expression:
    """A compiled expression: call it on a :class:`RuleEnv` for one value per candidate.

    ``kind`` is ``"condition"`` (a boolean mask) or ``"number"`` (a float array);
    ``names`` the item/context names it reads.
    """

    __slots__ = ("source", "kind", "names", "_fn")

    def __init__(self, source: str, kind: str, names: frozenset[str], fn: Fn):
        self.source, self.kind, self.names, self._fn = source, kind, names, fn

    def __call__(self, env: RuleEnv) -> np.ndarray:
        out = self._fn(env)
        if self.kind == BOOL:
            if np.ndim(out) == 0:
                return np.full(len(env), bool(out))
            return np.asarray(out, dtype=bool)
        if np.ndim(out) == 0:
            return np.full(len(env), float(out))
        return np.asarray(out, dtype=np.float64)

    def __repr__(self) -> str:
        return f"Expression({self.source!r}, {self.kind})"


def compile_expression(text: str, kind: str = "condition") -> Expression:
    """Parse, type-check and compile ``text``; ``kind`` is ``"condition"`` or ``"number"``.

    Raises :class:`ExpressionError` (a ``ValueError``) naming the position of the problem.
    """
    if kind not in (BOOL, NUM):
        raise ValueError(f"kind must be {BOOL!r} or {NUM!r}")
    tree = parse(text)
    compiler = ItemExpressionCompiler(text)
    fn = compiler.condition(tree) if kind == BOOL else compiler.number(tree)
    return Expression(text, kind, frozenset(compiler.names), fn)
