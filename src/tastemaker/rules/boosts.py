"""Boosts and buries: multiply the score of the candidates a condition selects.

``factor > 1`` boosts, ``0 <= factor < 1`` buries (the item stays, lower). The factor may
be a number or a number expression over item properties (``"1 + margin"``), evaluated per
candidate; negative factors are clipped to 0 so a rule can never turn the order upside down.

>>> from tastemaker.features.catalog import CatalogView
>>> from tastemaker.features.item_index import ItemIndex
>>> from tastemaker.rules.expressions import compile_expression
>>> from tastemaker.schema.records import Item
>>> cat = CatalogView(ItemIndex())
>>> _ = [cat.upsert(Item(id=str(i), brand="A" if i else "B")) for i in range(3)]
>>> env = RuleEnv(cat, np.arange(3), now=0.0, scores=np.ones(3))
>>> boost = Boost("acme", compile_expression('brand == "A"'), factor=2.0)
>>> factors = boost.factors(env); factors.tolist()
[1.0, 2.0, 2.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tastemaker.rules.env import RuleEnv
from tastemaker.rules.expressions import Expression
from tastemaker.rules.schedule import ALWAYS, Schedule


@dataclass(frozen=True)
class Boost:
    """Multiply the score of candidates matching ``when`` (all candidates when None) by
    ``factor`` (a number, or a number :class:`Expression`)."""

    name: str
    when: Expression | None = None
    factor: float | Expression = 1.0
    schedule: Schedule = field(default=ALWAYS, kw_only=True)

    def factors(self, env: RuleEnv) -> np.ndarray:
        """The per-candidate multiplier (1.0 where the rule does not apply)."""
        n = len(env)
        if isinstance(self.factor, Expression):
            f = self.factor(env)
            f = np.where(np.isfinite(f), np.maximum(f, 0.0), np.where(f == -np.inf, 0.0, 1.0))
        else:
            factor = max(float(self.factor), 0.0)
            if self.when is not None:
                return np.where(self.when(env), factor, 1.0)
            f = np.full(n, factor)
        if self.when is not None:
            f = np.where(self.when(env), f, 1.0)
        return f

    @property
    def is_bury(self) -> bool:
        return not isinstance(self.factor, Expression) and self.factor < 1.0
