"""FeatureStore: the streaming features of every user, item and category, folded per event.

``OnlineState.apply`` calls :meth:`FeatureStore.note` for each event (a tuple appended to a
list); the pending events are folded into the ring tables (:mod:`tastemaker.features.windows`)
a batch at a time with numpy, when :data:`FOLD_AT` are pending or before any read, so the
per-event cost is a list append plus a share of one vectorised fold.

Reads go through :meth:`FeatureStore.values` (many entities at once: the ranker, trending
lists, training rows) and :meth:`FeatureStore.features_for` (one entity, as a dict: the API,
segment expressions).

Item prices and categories are those of the catalog when the batch is folded (the catalog
keeps no history of prices), which is also what a replay of the log sees.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np

from tastemaker.features.definitions import FeatureDefinition
from tastemaker.features.registry import compile_plan
from tastemaker.features.stream_values import channel_increments, derive, type_mask
from tastemaker.features.windows import RingTable

FOLD_AT = 1024  # pending events folded in one numpy pass: ~3 ms on the event loop, then it serves again


class FeatureStore:
    """Ring tables and latest-event times for the definitions given (see module docstring)."""

    def __init__(self, definitions: Sequence[FeatureDefinition]):
        self.definitions = tuple(definitions)
        self.plan = compile_plan(self.definitions)
        self.tables = {e: {g: RingTable(g, len(ch)) for g, ch in t.items()} for e, t in self.plan.tables.items()}
        self.lasts = {e: np.full((0, len(k)), -math.inf) for e, k in self.plan.lasts.items()}
        # item rows are item positions; category rows number the categories read so far
        self.rows: dict[str, dict[str, int]] = {"user": {}, "category": {}}
        self.clock = 0.0  # the latest event time folded or noted
        self.index: Any = None  # the state's ItemIndex and CatalogView, bound by OnlineState
        self.catalog: Any = None
        self._pending: list[tuple] = []
        self._lock = threading.Lock()
        self._type_codes: dict[str, int] = {}  # event type -> small code, for vectorised type masks
        self._context_keys = tuple(f[8:] for f in self.plan.value_fields() if f.startswith("context."))

    # -- write side ---------------------------------------------------------------------
    def note(self, user_id: str, event_type: str, positions: list[int], value: float | None, ts: float,
             context: dict | None) -> None:
        """Queue one event (its items as positions in the state's item index)."""
        # only atomic values (the items as a tuple, the context's numbers picked out), so the
        # garbage collector stops tracking pending entries instead of scanning them
        keys = self._context_keys
        picked = tuple(map(context.get, keys)) if keys and context else None
        self._pending.append((user_id, event_type, tuple(positions), value, ts, picked))
        self.clock = max(self.clock, ts)
        if len(self._pending) >= FOLD_AT:
            self.fold()

    def fold(self) -> None:
        """Fold every pending event into the tables (called before reads and snapshots)."""
        if not self._pending:
            return
        with self._lock:
            pending, self._pending = self._pending, []
            if pending:
                self._fold(pending)

    def _fold(self, pending: list[tuple]) -> None:
        user_ids, names, items, values, times, contexts = zip(*pending)  # columns, transposed in C
        users, codes = self.rows["user"], self._type_codes
        user_rows = np.array([users.setdefault(u, len(users)) for u in user_ids], np.int64)
        ts = np.array(times, np.float64)
        types = np.array([codes.setdefault(t, len(codes)) for t in names], np.int64)
        counts = np.fromiter(map(len, items), np.int64, len(items))
        event_of = np.repeat(np.arange(len(items)), counts)
        positions = np.fromiter(chain.from_iterable(items), np.int64, len(event_of))
        columns = self._value_columns(values, contexts, event_of, positions)
        self._fold_entity("user", user_rows, ts, types, columns["user"])
        if len(positions):
            self._fold_entity("item", positions, ts[event_of], types[event_of], columns["item"])

    def _value_columns(self, values: tuple, contexts: tuple, event_of: np.ndarray, positions: np.ndarray) -> dict:
        """Each value field as a column per event (user) and per (event, item) pair (items)."""
        n, fields = len(values), self.plan.value_fields()
        user: dict[str, np.ndarray] = {}
        if "value" in fields:
            user["value"] = np.array(values, np.float64)  # None reads as NaN
        for j, key in enumerate(self._context_keys):
            user["context." + key] = np.array([math.nan if c is None else _number(c[j]) for c in contexts], np.float64)
        item = {k: v[event_of] for k, v in user.items()}
        if "item.price" in fields:
            price = self.catalog.price if self.catalog is not None else np.zeros(0)
            known = positions < len(price)
            item["item.price"] = np.where(known, price[np.where(known, positions, 0)] if len(price) else math.nan,
                                          math.nan)
            has = ~np.isnan(item["item.price"])
            total = np.bincount(event_of[has], weights=item["item.price"][has], minlength=n)
            count = np.bincount(event_of[has], minlength=n)
            user["item.price"] = np.where(count > 0, total, math.nan)
        return {"user": user, "item": item}

    def _fold_entity(self, entity: str, rows: np.ndarray, ts: np.ndarray, types: np.ndarray,
                     columns: dict[str, np.ndarray]) -> None:
        if not len(rows):
            return
        codes, masks = self._type_codes, {}
        for geometry, table in self.tables[entity].items():
            increments = channel_increments(self.plan.tables[entity][geometry], types, columns, len(rows), codes,
                                            masks)
            table.fold(rows, ts, increments)
        kept = self.plan.lasts[entity]
        if kept:
            lasts = self.lasts[entity]
            need = int(rows.max()) + 1
            if need > len(lasts):
                grown = np.full((max(need, 2 * len(lasts), 64), len(kept)), -math.inf)
                grown[: len(lasts)] = lasts
                self.lasts[entity] = lasts = grown
            for j, wanted in enumerate(kept):
                mask = masks.get(wanted)
                if mask is None:
                    mask = masks[wanted] = type_mask(types, wanted, codes)
                # each row's latest time: the first of each row in the events reversed by time
                order = np.argsort(ts[mask], kind="stable")[::-1]
                r, t = rows[mask][order], ts[mask][order]
                r, at = np.unique(r, return_index=True)
                lasts[r, j] = np.maximum(lasts[r, j], t[at])

    # -- read side ----------------------------------------------------------------------
    def row(self, entity: str, entity_id: str) -> int | None:
        """The dense row of an entity the features have seen, or None."""
        self.fold()
        if entity == "item":
            return self.index.get(entity_id) if self.index is not None else None
        if entity == "category":
            if self.catalog is None or entity_id not in self.catalog.category_members:
                return None
            rows = self.rows["category"]
            return rows.setdefault(entity_id, len(rows))
        return self.rows[entity].get(entity_id)

    def values(self, entity: str, rows: np.ndarray, now: float | None = None,
               names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Each definition of ``entity`` (or only ``names``) as an array over ``rows`` at
        ``now`` (default: the latest event time); NaN where undefined (a ratio over nothing)."""
        self.fold()
        now = self.clock if now is None else now
        rows = np.asarray(rows, dtype=np.int64)
        wanted = None if names is None else set(names)
        defs = [d for d in self.definitions if d.entity == entity and (wanted is None or d.name in wanted)]
        if entity == "category":
            sums, last = self._category_sums(rows, now)
        else:
            sums = {g: t.window_sums(rows, now) for g, t in self.tables[entity].items()}
            last = self._lasts(entity, rows)
        return {d.name: derive(d, self.plan.reads[d.name], sums, last, now) for d in defs}

    def _lasts(self, entity: str, rows: np.ndarray) -> np.ndarray:
        lasts = self.lasts[entity]
        inside = rows < len(lasts)
        last = np.full((len(rows), lasts.shape[1]), -math.inf)
        last[inside] = lasts[rows[inside]]
        return last

    def _category_sums(self, rows: np.ndarray, now: float) -> tuple[dict, np.ndarray]:
        """Each category's window sums and latest times: those of its items (the catalog's
        membership now), summed and maxed."""
        names = list(self.rows["category"])
        members = self.catalog.category_members if self.catalog is not None else {}
        items = [np.fromiter(members.get(names[r], ()) if r < len(names) else (), np.int64) for r in rows.tolist()]
        owner = np.repeat(np.arange(len(rows)), [len(m) for m in items])
        flat = np.concatenate(items) if items else np.zeros(0, np.int64)
        sums = {}
        for g, table in self.tables["item"].items():
            out = np.zeros((len(rows), table.channels))
            np.add.at(out, owner, table.window_sums(flat, now))
            sums[g] = out
        item_last = self._lasts("item", flat)
        last = np.full((len(rows), item_last.shape[1]), -math.inf)
        np.maximum.at(last, owner, item_last)
        return sums, last

    def features_for(self, entity: str, entity_id: str, now: float | None = None) -> dict[str, float | int | None] | None:
        """Every feature of one entity at ``now`` as JSON values (None: undefined), or None
        when the features have never seen the entity."""
        row = self.row(entity, entity_id)
        if row is None:
            return None
        out: dict[str, float | int | None] = {}
        for d in (d for d in self.definitions if d.entity == entity):
            out[d.name] = None
        for name, column in self.values(entity, np.array([row]), now).items():
            v = float(column[0])
            out[name] = None if math.isnan(v) else (int(v) if self._is_count(name) else round(v, 6))
        return out

    def candidate_columns(self, names: Sequence[str], items: np.ndarray, user_id: str | None,
                          now: float | None = None) -> np.ndarray:
        """(len(items), len(names)): item features of each candidate (item positions) and user
        features of ``user_id`` repeated down the column; NaN for category features, unknown
        names and undefined values. The ranker's ``stream:NAME`` columns at serving time."""
        out = np.full((len(items), len(names)), math.nan)
        by_name = {d.name: d.entity for d in self.definitions}
        item_names = [n for n in names if by_name.get(n) == "item"]
        user_names = [n for n in names if by_name.get(n) == "user"]
        got: dict[str, np.ndarray] = {}
        if item_names and len(items):
            got.update(self.values("item", np.asarray(items, np.int64), now, item_names))
        row = self.row("user", user_id) if user_names and user_id is not None else None
        if row is not None:
            got.update({k: np.full(len(items), v[0]) for k, v in
                        self.values("user", np.array([row]), now, user_names).items()})
        for j, name in enumerate(names):
            if name in got:
                out[:, j] = got[name]
        return out

    def _is_count(self, name: str) -> bool:
        return any(d.name == name and d.type == "integer" for d in self.definitions)

    def top(self, name: str, n: int = 10, now: float | None = None) -> list[tuple[str, float]]:
        """The ``n`` items or categories with the highest value of feature ``name``
        (e.g. ``item_trend_1h``: the top trending list), best first, values above 0 only."""
        d = next(d for d in self.definitions if d.name == name)
        self.fold()
        if d.entity == "category":
            for category in list(self.catalog.category_members if self.catalog is not None else ()):
                self.row("category", category)
        ids = self.index.ids if d.entity == "item" else list(self.rows[d.entity])
        column = self.values(d.entity, np.arange(len(ids)), now, [name])[name]
        column = np.nan_to_num(column, nan=0.0)
        order = np.argsort(-column, kind="stable")[:n]
        return [(ids[i], float(column[i])) for i in order if column[i] > 0]

    @property
    def late_dropped(self) -> int:
        """Events dropped as later than a whole window behind their entity's newest event."""
        self.fold()
        return sum(t.late_dropped for tables in self.tables.values() for t in tables.values())

    # -- erasure and persistence --------------------------------------------------------
    def forget_user(self, user_id: str) -> None:
        """Drop a user's features (erasure): their row is cleared and never reused."""
        self.fold()
        row = self.rows["user"].pop(user_id, None)
        if row is None:
            return
        for table in self.tables["user"].values():
            table.clear_row(row)
        if row < len(self.lasts["user"]):
            self.lasts["user"][row] = -math.inf

    def subtract(self, other: FeatureStore) -> None:
        """Take away the item counts of ``other`` (a user's events folded alone over the same
        item index: features.erasure), and so the categories' too. Latest-event times are kept."""
        self.fold()
        other.fold()
        size = max((len(t) for t in other.tables["item"].values()), default=0)
        row_map = np.arange(size, dtype=np.int64)  # both fold over the same item index
        for geometry, table in self.tables["item"].items():
            theirs = other.tables["item"].get(geometry)
            if theirs is not None:
                table.subtract(theirs, row_map)

    def nbytes(self) -> int:
        """Bytes held by the ring tables and latest-time arrays."""
        return sum(t.nbytes() for tables in self.tables.values() for t in tables.values()) + sum(
            a.nbytes for a in self.lasts.values())

    def __getstate__(self) -> dict[str, Any]:
        self.fold()
        state = self.__dict__.copy()
        for key in ("index", "catalog", "_lock", "_pending"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.index = self.catalog = None
        self._pending = []
        self._lock = threading.Lock()


def _number(v: Any) -> float:
    """A context value as a float (NaN unless a number: booleans and strings are not)."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
