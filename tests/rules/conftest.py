"""A small catalog for the rule tests: eight items with every kind of property."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.features.catalog import CatalogView
from tastemaker.features.item_index import ItemIndex
from tastemaker.features.user_state import UserState
from tastemaker.rules.env import RuleEnv
from tastemaker.schema.records import Item
from tastemaker.candidates import Candidates

NOW = 1_700_000_000.0
DAY = 86400.0

ITEMS = [
    Item(id="a", categories=["shoes"], brand="Acme", price=10.0, margin=0.1, stock=0, tags=["sale"],
         created_at=NOW - 1 * DAY, properties={"color": "red", "rating": 4.5, "eco": True}),
    Item(id="b", categories=["shoes", "sport"], brand="Acme", price=20.0, margin=0.4, stock=3,
         created_at=NOW - 10 * DAY, properties={"color": ["blue", "red"], "rating": 3.0}),
    Item(id="c", categories=["hats"], brand="Bolt", price=30.0, margin=0.2, stock=50, tags=["new"],
         created_at=NOW - 40 * DAY, properties={"eco": False}),
    Item(id="d", categories=["hats"], brand="Bolt", price=40.0, stock=1, created_at=NOW - 100 * DAY),
    Item(id="e", categories=["socks"], brand="Cove", price=5.0, margin=0.05, tags=["sale", "new"]),
    Item(id="f", categories=["shoes"], brand="Cove", margin=0.3, stock=7, created_at=NOW - 2 * DAY),
    Item(id="g", categories=["sport"], price=60.0, margin=0.5, stock=9, created_at=NOW - 5 * DAY),
    Item(id="h", brand="Acme", price=15.0, margin=0.2, stock=2, created_at=NOW - 3 * DAY),
]


@pytest.fixture
def catalog() -> CatalogView:
    cat = CatalogView(ItemIndex())
    for item in ITEMS:
        cat.upsert(item)
    return cat


@pytest.fixture
def user(catalog: CatalogView) -> UserState:
    u = UserState()
    u.add_purchased(catalog.index.get("b"))
    u.seen = {catalog.index.get("b"), catalog.index.get("c")}
    return u


def env_for(catalog: CatalogView, ids: str = "abcdefgh", scores=None, sources=None, user=None, context=None,
            item_columns=None) -> RuleEnv:
    items = np.array([catalog.index.get(i) for i in ids], np.int64)
    return RuleEnv(catalog, items, NOW, None if scores is None else np.asarray(scores, float),
                   None if sources is None else np.asarray(sources, dtype=object), user, item_columns, context)


def cands_for(catalog: CatalogView, ids: str, scores=None, source: str = "covisitation") -> Candidates:
    items = np.array([catalog.index.get(i) for i in ids], np.int64)
    scores = np.linspace(len(ids), 1, len(ids)) if scores is None else np.asarray(scores, float)
    return Candidates(items, scores, np.full(len(ids), source, dtype=object))


def names(catalog: CatalogView, items) -> str:
    return "".join(catalog.index.ids[i] for i in np.asarray(items).tolist())
