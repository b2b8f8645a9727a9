"""Filter rules: which candidates may be shown at all.

Every filter answers ``mask(env) -> bool array`` over the candidates of a
:class:`~tastemaker.rules.env.RuleEnv` (True: keep). A missing value (no price, no
``created_at``) fails a range filter: an item cannot be shown as "under 50" when its price
is unknown. Stock that is not tracked (NaN) passes :class:`InStock`, like the built-in
availability filter.

>>> from tastemaker.features.catalog import CatalogView
>>> from tastemaker.features.item_index import ItemIndex
>>> from tastemaker.schema.records import Item
>>> cat = CatalogView(ItemIndex())
>>> _ = [cat.upsert(Item(id=str(i), price=10.0 * i, stock=i)) for i in range(4)]
>>> env = RuleEnv(cat, np.arange(4), now=0.0)
>>> InStock(min_stock=1).mask(env).tolist(), PriceRange(min=5, max=25).mask(env).tolist()
([False, True, True, True], [False, True, True, False])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tastemaker.rules.env import RuleEnv
from tastemaker.rules.expressions import Expression
from tastemaker.rules.schedule import ALWAYS, Schedule


@dataclass(frozen=True, kw_only=True)
class Filter:
    """Base of the filters: a name (for explanations) and when it is in force."""

    name: str = "filter"
    schedule: Schedule = ALWAYS

    def mask(self, env: RuleEnv) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class InStock(Filter):
    """Available (in the catalog, stock not 0) and, where stock is tracked, at least ``min_stock``."""

    name: str = "in_stock"
    min_stock: float = 0.0

    def mask(self, env: RuleEnv) -> np.ndarray:
        keep = env.available().copy()
        if self.min_stock > 0:
            stock = env.column("stock")
            keep &= np.isnan(stock) | (stock >= self.min_stock)
        return keep


@dataclass(frozen=True, kw_only=True)
class _Membership(Filter):
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    _table = ""

    def mask(self, env: RuleEnv) -> np.ndarray:
        table: dict[str, set[int]] = getattr(env.catalog, self._table)
        keep = np.ones(len(env), dtype=bool)
        if self.include:
            hit = np.zeros(len(env), dtype=bool)
            for value in self.include:
                hit |= env.members(table.get(value, ()))
            keep &= hit
        for value in self.exclude:
            keep &= ~env.members(table.get(value, ()))
        return keep


@dataclass(frozen=True, kw_only=True)
class CategoryFilter(_Membership):
    """Items with any ``include`` category (when given) and none of the ``exclude`` ones."""

    name: str = "category"
    _table = "category_members"


@dataclass(frozen=True, kw_only=True)
class BrandFilter(_Membership):
    """Items of an ``include`` brand (when given) and of no ``exclude`` brand."""

    name: str = "brand"
    _table = "brand_members"


@dataclass(frozen=True, kw_only=True)
class PriceRange(Filter):
    """``min <= price <= max``; an item without a price fails."""

    min: float = -math.inf
    max: float = math.inf
    name: str = "price"

    def mask(self, env: RuleEnv) -> np.ndarray:
        price = env.column("price")
        if self.min == -math.inf:  # NaN fails either comparison
            return price <= self.max
        if self.max == math.inf:
            return price >= self.min
        return (price >= self.min) & (price <= self.max)


@dataclass(frozen=True, kw_only=True)
class AgeRange(Filter):
    """Items created between ``min_age`` and ``max_age`` seconds before now; an item without
    ``created_at`` fails."""

    min_age: float = 0.0
    max_age: float = math.inf
    name: str = "age"

    def mask(self, env: RuleEnv) -> np.ndarray:
        age = env.column("age")
        return (age >= self.min_age) & (age <= self.max_age)


@dataclass(frozen=True, kw_only=True)
class ExpressionFilter(Filter):
    """Keep candidates for which the condition ``expr`` holds."""

    expr: Expression | None = None
    name: str = "expression"

    def mask(self, env: RuleEnv) -> np.ndarray:
        assert self.expr is not None
        return self.expr(env)


@dataclass(frozen=True, kw_only=True)
class NotPurchased(Filter):
    """Drop what the user already purchased (the request's user state)."""

    name: str = "not_purchased"

    def mask(self, env: RuleEnv) -> np.ndarray:
        user = env.user
        if user is None or not user.n_purchased:
            return np.ones(len(env), dtype=bool)
        return ~env.members(user.purchased)
