"""The catalog as arrays and sets, for filtering candidates without touching the database.

Besides the columns the built-in filters use (``known``, ``available``, ``price``,
``created_at``, categories and brands), the view keeps what business rules read
(see ``tastemaker.rules``): ``margin`` and ``stock`` columns (NaN when unknown), ``tags``
with ``tag_members``, and the item's free ``properties``: numbers and booleans become
float columns in ``numeric_properties`` (NaN where an item lacks the property), strings and
lists of strings become member sets in ``value_members[(name, value)]``. ``brand_code`` and
``category_code`` (the primary, first category) are int32 columns of codes from
``brand_ids`` / ``category_ids`` (-1: none), so caps and diversity group candidates with one
numpy gather. Every update stays O(1) in the size of the catalog (amortised growth).

:meth:`CatalogView.rule_block` packs the float columns rules and ranking features read
(``RULE_COLUMNS``) into one (columns x items) matrix and the group codes into another, so a
request gathers all of them for its candidates with one ``np.take`` each. The matrices are
built on first use and then patched in place for the items updated since (an upsert or
removal marks its item stale), so a catalog feed does not rebuild them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tastemaker.features.item_index import ItemIndex, grown
from tastemaker.schema.records import Item

MAX_NUMERIC_PROPERTIES = 64  # columns are per item: bound them against a careless feed
RULE_COLUMNS: tuple[str, ...] = ("price", "margin", "stock", "created_at", "available")  # rows of rule_block()[0]
CODE_COLUMNS: tuple[str, ...] = ("brand", "category")  # rows of rule_block()[1] (``*_code``)
_FILL = {"price": math.nan, "margin": math.nan, "stock": math.nan, "created_at": math.nan, "available": 0.0}


class CatalogView:
    """In-memory view of the item catalog, indexed like every other per-item array.

    >>> index = ItemIndex(); view = CatalogView(index)
    >>> _ = view.upsert(Item(id="a", categories=["shoes"], stock=0))
    >>> bool(view.available[index.get("a")]), sorted(view.category_members["shoes"])
    (False, [0])
    >>> p = view.upsert(Item(id="b", margin=0.3, tags=["sale"], properties={"color": "red", "rating": 4.5}))
    >>> float(view.margin[p]), sorted(view.tag_members["sale"]), sorted(view.value_members[("color", "red")])
    (0.3, [1], [1])
    >>> float(view.numeric_properties["rating"][p])
    4.5
    """

    # Class-level defaults: snapshots pickled before these attributes existed still load
    # (``__setstate__`` sizes the columns to the restored catalog).
    margin = np.zeros(0, dtype=np.float64)
    stock = np.zeros(0, dtype=np.float64)
    brand_code = np.zeros(0, dtype=np.int32)
    category_code = np.zeros(0, dtype=np.int32)
    _block: tuple[np.ndarray, np.ndarray] | None = None  # rule_block(), built on first use
    _stale: set[int] | None = None  # items updated since the block was built (None: no block)

    def __init__(self, index: ItemIndex):
        self.index = index
        self.known = np.zeros(0, dtype=bool)  # in the catalog (not deleted)
        self.available = np.zeros(0, dtype=bool)  # in the catalog and in stock
        self.price = np.zeros(0, dtype=np.float64)
        self.created_at = np.zeros(0, dtype=np.float64)
        self.margin = np.zeros(0, dtype=np.float64)
        self.stock = np.zeros(0, dtype=np.float64)  # NaN: stock not tracked
        self.brand_code = np.zeros(0, dtype=np.int32)
        self.category_code = np.zeros(0, dtype=np.int32)
        self.categories: dict[int, tuple[str, ...]] = {}
        self.brands: dict[int, str] = {}
        self.category_members: dict[str, set[int]] = {}
        self.brand_members: dict[str, set[int]] = {}
        self.titles: dict[int, str] = {}
        self._init_rule_columns()

    def _init_rule_columns(self) -> None:
        self.brand_ids: dict[str, int] = {}
        self.category_ids: dict[str, int] = {}
        self.tags: dict[int, tuple[str, ...]] = {}
        self.tag_members: dict[str, set[int]] = {}
        self.numeric_properties: dict[str, np.ndarray] = {}
        self.value_members: dict[tuple[str, str], set[int]] = {}
        # what each item contributed, so a re-upsert or delete undoes it in O(its properties)
        self._item_properties: dict[int, tuple[tuple[str, Any], ...]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_block", None)  # derived: rebuilt on first use after a restore
        state.pop("_stale", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        size = len(self.known)
        if "tag_members" not in state:  # a snapshot from before the rule columns
            self._init_rule_columns()
            self.brand_code = np.full(size, -1, dtype=np.int32)
            self.category_code = np.full(size, -1, dtype=np.int32)
            for pos, brand in self.brands.items():
                self.brand_code[pos] = self.brand_ids.setdefault(brand, len(self.brand_ids))
            for pos, cats in self.categories.items():
                self.category_code[pos] = self.category_ids.setdefault(cats[0], len(self.category_ids))
        for name in ("margin", "stock"):
            if len(self.__dict__.get(name, ())) < size:
                self.__dict__[name] = grown(np.zeros(0, dtype=np.float64), size, math.nan)

    def _grow(self, size: int) -> None:
        self.known = grown(self.known, size, False)
        self.available = grown(self.available, size, False)
        self.price = grown(self.price, size, math.nan)
        self.created_at = grown(self.created_at, size, math.nan)
        self.margin = grown(self.margin, size, math.nan)
        self.stock = grown(self.stock, size, math.nan)
        self.brand_code = grown(self.brand_code, size, -1)
        self.category_code = grown(self.category_code, size, -1)
        for name, column in self.numeric_properties.items():
            if len(column) < size:
                self.numeric_properties[name] = grown(column, size, math.nan)

    def rule_block(self) -> tuple[np.ndarray, np.ndarray]:
        """``(floats, codes)``: a (len(RULE_COLUMNS), width) float64 matrix of the rule columns
        (``available`` as 1.0/0.0) and a (2, width) int32 matrix of ``brand_code`` and
        ``category_code``, ``width = len(self.known)``; items at or beyond ``width`` have no
        entry (their columns are NaN / unavailable / -1). Read-only for callers."""
        block, stale = self._block, self._stale
        width = len(self.known)
        if block is None or stale is None or block[0].shape[1] != width or len(stale) > width // 8:
            return self._build_block(width)
        if stale:
            self._stale = set()
            try:
                pos = np.fromiter(stale, np.int64, len(stale))
            except RuntimeError:  # updated meanwhile from another thread: start over
                return self._build_block(width)
            floats, codes = block
            for j, name in enumerate(RULE_COLUMNS):
                floats[j, pos] = getattr(self, name)[pos]
            codes[0, pos] = self.brand_code[pos]
            codes[1, pos] = self.category_code[pos]
        return block

    def _build_block(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        self._stale = set()
        floats = np.empty((len(RULE_COLUMNS), width))
        for j, name in enumerate(RULE_COLUMNS):
            col = getattr(self, name)[:width]
            floats[j, : len(col)] = col
            floats[j, len(col):] = _FILL[name]
        codes = np.full((len(CODE_COLUMNS), width), -1, dtype=np.int32)
        for j, name in enumerate(CODE_COLUMNS):
            col = getattr(self, name + "_code")[:width]
            codes[j, : len(col)] = col
        self._block = (floats, codes)
        return self._block

    def _touch(self, pos: int) -> None:
        if self._stale is not None:
            self._stale.add(pos)

    def upsert(self, item: Item) -> int:
        pos = self.index.add(item.id)
        self._grow(pos + 1)
        self._touch(pos)
        self._forget(pos)
        self.known[pos] = True
        self.available[pos] = item.stock is None or item.stock > 0
        self.price[pos] = math.nan if item.price is None else item.price
        self.created_at[pos] = math.nan if item.created_at is None else float(item.created_at)
        self.margin[pos] = math.nan if item.margin is None else item.margin
        self.stock[pos] = math.nan if item.stock is None else item.stock
        cats = tuple(dict.fromkeys(item.categories))
        if cats:
            self.categories[pos] = cats
            for cat in cats:
                self.category_members.setdefault(cat, set()).add(pos)
            self.category_code[pos] = self.category_ids.setdefault(cats[0], len(self.category_ids))
        if item.brand:
            self.brands[pos] = item.brand
            self.brand_members.setdefault(item.brand, set()).add(pos)
            self.brand_code[pos] = self.brand_ids.setdefault(item.brand, len(self.brand_ids))
        if item.title:
            self.titles[pos] = item.title
        tags = tuple(dict.fromkeys(item.tags))
        if tags:
            self.tags[pos] = tags
            for tag in tags:
                self.tag_members.setdefault(tag, set()).add(pos)
        if item.properties:
            self._set_properties(pos, item.properties)
        return pos

    def _set_properties(self, pos: int, properties: dict[str, Any]) -> None:
        kept: list[tuple[str, Any]] = []
        for name, value in properties.items():
            if isinstance(value, (bool, int, float)) and not isinstance(value, complex):
                column = self.numeric_properties.get(name)
                if column is None:
                    if len(self.numeric_properties) >= MAX_NUMERIC_PROPERTIES:
                        continue
                    column = grown(np.zeros(0, dtype=np.float64), len(self.known), math.nan)
                    self.numeric_properties[name] = column
                column[pos] = float(value)
                kept.append((name, None))
            else:
                values = value if isinstance(value, list) else [value]
                strings = tuple(dict.fromkeys(v for v in values if isinstance(v, str)))
                for v in strings:
                    self.value_members.setdefault((name, v), set()).add(pos)
                if strings:
                    kept.append((name, strings))
        if kept:
            self._item_properties[pos] = tuple(kept)

    def remove(self, item_id: str) -> None:
        pos = self.index.get(item_id)
        if pos is None or pos >= len(self.known):
            return
        self._touch(pos)
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
        for tag in self.tags.pop(pos, ()):
            self.tag_members.get(tag, set()).discard(pos)
        for name, strings in self._item_properties.pop(pos, ()):
            if strings is None:
                self.numeric_properties[name][pos] = math.nan
            else:
                for v in strings:
                    self.value_members.get((name, v), set()).discard(pos)
        self.margin[pos] = math.nan
        self.stock[pos] = math.nan
        self.brand_code[pos] = -1
        self.category_code[pos] = -1

    def size(self) -> int:
        return int(self.known.sum())
