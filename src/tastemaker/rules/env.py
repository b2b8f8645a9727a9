"""The per-request view that rules, expressions and re-rankers read: candidates + item columns.

A :class:`RuleEnv` is built once per request over the candidate item indices; every rule
reads item columns through it, so a column is gathered (``catalog.price[items]``) once per
request however many rules use it. The catalog's rule columns (price, margin, stock,
created_at, availability, brand and category codes) come in one block: the first read of
any of them gathers all of them with one ``np.take`` of ``CatalogView.rule_block()``, and
:meth:`RuleEnv.subset` re-indexes the block rather than each column. Membership tests (``brand == "Acme"``, ``"sale" in
tags``) cost O(candidates) set lookups, independent of how many items a brand or tag has.

>>> from tastemaker.features.catalog import CatalogView
>>> from tastemaker.features.item_index import ItemIndex
>>> from tastemaker.schema.records import Item
>>> cat = CatalogView(ItemIndex())
>>> a = cat.upsert(Item(id="a", price=5.0, brand="B")); b = cat.upsert(Item(id="b", price=7.0))
>>> env = RuleEnv(cat, np.array([b, a]), now=0.0)
>>> env.column("price").tolist(), env.members(cat.brand_members.get("B", ())).tolist()
([7.0, 5.0], [False, True])
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from tastemaker.features.catalog import CODE_COLUMNS, RULE_COLUMNS, CatalogView

_COLUMN_ATTRS = {"price": "price", "margin": "margin", "stock": "stock", "created_at": "created_at"}
_BLOCK_ROW = {name: j for j, name in enumerate(RULE_COLUMNS)}
_CODE_ROW = {name: j for j, name in enumerate(CODE_COLUMNS)}
_AVAILABLE = _BLOCK_ROW["available"]
# cache keys whose values are views of the block (subset() re-derives them from it)
_BLOCK_KEYS = frozenset([*_COLUMN_ATTRS, "available", *("code:" + k for k in CODE_COLUMNS)])


class RuleEnv:
    """Candidates (item indices) plus everything rules may read for them.

    ``scores``/``sources`` are the candidate table's columns (optional), ``user`` a
    ``UserState`` (optional), ``item_columns`` extra full-catalog float arrays by name
    (e.g. ``popularity``: ``state.popularity_scores()``), resolved lazily: pass a callable to
    compute it only when a rule reads it. ``context`` is the request context (device,
    channel, locale, geo, ...), read by ``context.NAME`` in expressions; ``segments`` the
    user's segments (a collection, or a callable computing it on first read: ``user.segments``).
    """

    __slots__ = ("catalog", "items", "now", "scores", "sources", "user", "item_columns", "context", "segments", "_cache",
                 "_list", "_block")

    def __init__(self, catalog: CatalogView, items: np.ndarray, now: float, scores: np.ndarray | None = None,
                 sources: np.ndarray | None = None, user: Any = None,
                 item_columns: dict[str, np.ndarray | Callable[[], np.ndarray]] | None = None,
                 context: dict[str, Any] | None = None, segments: Callable[[], Collection[str]] | None = None):
        self.catalog = catalog
        self.items = np.asarray(items, dtype=np.int64)
        self.now = float(now)
        self.scores = scores
        self.sources = sources
        self.user = user
        self.item_columns = item_columns or {}
        self.context = context or {}
        self.segments = segments  # the user's segments (``user.segments``), computed when first read
        self._cache: dict[str, np.ndarray] = {}
        self._list: list[int] | None = None
        self._block: tuple[np.ndarray, np.ndarray] | None = None  # the catalog's rule block, gathered

    def __len__(self) -> int:
        return len(self.items)

    @property
    def item_list(self) -> list[int]:
        if self._list is None:
            self._list = self.items.tolist()
        return self._list

    def gather(self, array: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """``array[items]``, with ``fill`` for items beyond the array's end."""
        items = self.items
        try:
            return array.take(items)
        except IndexError:  # some candidate beyond the array's end
            pass
        if len(items) and int(items.max()) >= len(array):
            out = np.full(len(items), fill, dtype=np.result_type(array.dtype, type(fill)))
            inside = items < len(array)
            out[inside] = array[items[inside]]
            return out
        return array[items]

    def block(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The candidates' columns of ``CatalogView.rule_block()`` (floats, codes), gathered on
        first use; None when some candidate is beyond the catalog's arrays (columns are then
        gathered one by one, with their fill values)."""
        block = self._block
        if block is None:
            get = getattr(self.catalog, "rule_block", None)
            if get is None:
                return None
            floats, codes = get()
            try:
                block = self._block = (floats.take(self.items, axis=1), codes.take(self.items, axis=1))
            except IndexError:
                return None
        return block

    def column(self, name: str) -> np.ndarray:
        """A float column for the candidates: price, margin, stock, created_at, age, score,
        a property (``properties.NAME``) or an extra item column; NaN where unknown."""
        out = self._cache.get(name)
        if out is not None:
            return out
        catalog = self.catalog
        if name in _COLUMN_ATTRS:
            block = self.block()
            out = self.gather(getattr(catalog, _COLUMN_ATTRS[name])) if block is None else block[0][_BLOCK_ROW[name]]
        elif name == "age":
            out = self.now - self.column("created_at")
        elif name == "score":
            out = np.zeros(len(self.items)) if self.scores is None else np.asarray(self.scores, np.float64)
        elif name.startswith("properties."):
            col = catalog.numeric_properties.get(name[len("properties."):])
            out = np.full(len(self.items), np.nan) if col is None else self.gather(col)
        else:
            col = self.item_columns.get(name)
            if callable(col):
                col = self.item_columns[name] = col()
            out = np.full(len(self.items), np.nan) if col is None else self.gather(np.asarray(col, np.float64))
        self._cache[name] = out
        return out

    def user_segments(self) -> Collection[str]:
        """The requesting user's segments (rule, lifecycle, predictive), read once per request."""
        got = self.segments
        if got is None:
            return ()
        if callable(got):
            got = self.segments = frozenset(got())
        return got

    def set_scores(self, scores: np.ndarray) -> None:
        """Replace the candidates' scores (after a boost), so ``score`` reads the new ones."""
        self.scores = scores
        self._cache.pop("score", None)

    def available(self) -> np.ndarray:
        out = self._cache.get("available")
        if out is None:
            block = self.block()
            if block is None:
                out = self.gather(self.catalog.available, False).astype(bool)
            else:
                out = block[0][_AVAILABLE] > 0.0
            self._cache["available"] = out
        return out

    def members(self, members: Collection[int]) -> np.ndarray:
        """``items[i] in members`` for each candidate (O(candidates), whatever the set's size)."""
        if not members:
            return np.zeros(len(self.items), dtype=bool)
        return np.fromiter(map(members.__contains__, self.item_list), dtype=bool, count=len(self.items))

    def group_codes(self, kind: str) -> np.ndarray:
        """int32 code of each candidate's brand (``kind="brand"``) or primary category
        (``"category"``), -1 where it has none (see ``CatalogView.brand_ids``)."""
        key = "code:" + kind
        out = self._cache.get(key)
        if out is None:
            if kind not in ("brand", "category"):
                raise ValueError(f"unknown group kind {kind!r}; use 'brand' or 'category'")
            block = self.block()
            if block is None:
                out = self.gather(getattr(self.catalog, kind + "_code"), -1).astype(np.int32, copy=False)
            else:
                out = block[1][_CODE_ROW[kind]]
            self._cache[key] = out
        return out

    def group_labels(self, kind: str) -> np.ndarray:
        """Object array of each candidate's brand (``kind="brand"``) or first category
        (``"category"``), None where it has none; cached per request."""
        key = "group:" + kind
        out = self._cache.get(key)
        if out is None:
            if kind == "brand":
                get = self.catalog.brands.get
                values = [get(i) for i in self.item_list]
            elif kind == "category":
                get = self.catalog.categories.get
                values = [(get(i) or (None,))[0] for i in self.item_list]
            else:
                raise ValueError(f"unknown group kind {kind!r}; use 'brand' or 'category'")
            out = np.empty(len(values), dtype=object)
            out[:] = values
            self._cache[key] = out
        return out

    def with_items(self, items: np.ndarray, scores: np.ndarray | None = None,
                   sources: np.ndarray | None = None) -> RuleEnv:
        """The same request (catalog, time, user, context) over other candidates."""
        return RuleEnv(self.catalog, items, self.now, scores, sources, self.user, self.item_columns, self.context,
                       self.segments)

    def subset(self, mask_or_order: np.ndarray) -> RuleEnv:
        """The same request over a subset (boolean mask) or reordering (index array) of the
        candidates; cached columns are carried over, not recomputed."""
        sel = mask_or_order
        env = RuleEnv(self.catalog, self.items[sel], self.now,
                      None if self.scores is None else self.scores[sel],
                      None if self.sources is None else self.sources[sel], self.user, self.item_columns, self.context,
                      self.segments)
        block = self._block
        if block is not None:  # one gather per block; its columns are views of it again
            env._block = (block[0][:, sel], block[1][:, sel])
        for key, value in self._cache.items():
            if block is None or key not in _BLOCK_KEYS:
                env._cache[key] = value[sel]
        return env
