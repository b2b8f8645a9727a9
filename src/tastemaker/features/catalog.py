"""The catalog as arrays and sets, for filtering candidates without touching the database."""

from __future__ import annotations

import math

import numpy as np

from tastemaker.features.item_index import ItemIndex, grown
from tastemaker.schema.records import Item


class CatalogView:
    """In-memory view of the item catalog, indexed like every other per-item array.

    >>> index = ItemIndex(); view = CatalogView(index)
    >>> view.upsert(Item(id="a", categories=["shoes"], stock=0))
    >>> bool(view.available[index.get("a")]), sorted(view.category_members["shoes"])
    (False, [0])
    """

    def __init__(self, index: ItemIndex):
        self.index = index
        self.known = np.zeros(0, dtype=bool)  # in the catalog (not deleted)
        self.available = np.zeros(0, dtype=bool)  # in the catalog and in stock
        self.price = np.zeros(0, dtype=np.float64)
        self.created_at = np.zeros(0, dtype=np.float64)
        self.categories: dict[int, tuple[str, ...]] = {}
        self.brands: dict[int, str] = {}
        self.category_members: dict[str, set[int]] = {}
        self.brand_members: dict[str, set[int]] = {}
        self.titles: dict[int, str] = {}

    def _grow(self, size: int) -> None:
        self.known = grown(self.known, size, False)
        self.available = grown(self.available, size, False)
        self.price = grown(self.price, size, math.nan)
        self.created_at = grown(self.created_at, size, math.nan)

    def upsert(self, item: Item) -> int:
        pos = self.index.add(item.id)
        self._grow(pos + 1)
        self._forget(pos)
        self.known[pos] = True
        self.available[pos] = item.stock is None or item.stock > 0
        self.price[pos] = math.nan if item.price is None else item.price
        self.created_at[pos] = math.nan if item.created_at is None else float(item.created_at)
        cats = tuple(dict.fromkeys(item.categories))
        if cats:
            self.categories[pos] = cats
            for cat in cats:
                self.category_members.setdefault(cat, set()).add(pos)
        if item.brand:
            self.brands[pos] = item.brand
            self.brand_members.setdefault(item.brand, set()).add(pos)
        if item.title:
            self.titles[pos] = item.title
        return pos

    def remove(self, item_id: str) -> None:
        pos = self.index.get(item_id)
        if pos is None or pos >= len(self.known):
            return
        self._forget(pos)
        self.known[pos] = False
        self.available[pos] = False

    def _forget(self, pos: int) -> None:
        for cat in self.categories.pop(pos, ()):
            self.category_members.get(cat, set()).discard(pos)
        brand = self.brands.pop(pos, None)
        if brand is not None:
            self.brand_members.get(brand, set()).discard(pos)
        self.titles.pop(pos, None)

    def size(self) -> int:
        return int(self.known.sum())
