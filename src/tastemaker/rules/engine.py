"""The rules engine: apply a placement's rule set to the candidate table, and say what moved.

A :class:`RuleSet` runs in two phases around ranking and diversity:

1. :meth:`RuleSet.score` on the merged candidates: adds the items of active pins that the
   sources did not propose, drops what a filter refuses, multiplies scores by boosts and
   buries, and blends in margin. Returns the candidates and their :class:`RuleEnv`, aligned.
2. :meth:`RuleSet.arrange` on the list in display order (after MMR / fairness): applies
   caps, then places pinned items, then cuts to ``n``.

:meth:`RuleSet.apply` does both with a plain sort by score in between.

Conflicts, decided once here: **filters win over pins** (a pinned item that is out of
stock, purchased, or outside the placement's category filter is not shown; the trace
records ``pin dropped``), and **pins win over caps** (a pinned item is placed even if its
brand is already at the cap; it still counts toward the cap for the other items).
Only rules whose schedule covers ``env.now`` act.

With a :class:`RuleTrace`, every rule that moved an item records it; explanations read
``trace.for_item(item)``. Without one, nothing is recorded and nothing is formatted.

>>> from tastemaker.features.catalog import CatalogView
>>> from tastemaker.features.item_index import ItemIndex
>>> from tastemaker.rules.boosts import Boost
>>> from tastemaker.rules.expressions import compile_expression
>>> from tastemaker.schema.records import Item
>>> from tastemaker.candidates import Candidates
>>> cat = CatalogView(ItemIndex())
>>> _ = [cat.upsert(Item(id=f"i{i}", brand="A" if i == 2 else "B", stock=0 if i == 0 else 5)) for i in range(4)]
>>> cands = Candidates(np.arange(4), np.array([4.0, 3.0, 2.0, 1.0]), np.array(["x"] * 4, dtype=object))
>>> rules = RuleSet(filters=(InStock(),), boosts=(Boost("brand-a", compile_expression('brand == "A"'), 2.0),),
...                 pins=(Pin("i3", 1),))
>>> trace = RuleTrace()
>>> out = rules.apply(cands, RuleEnv(cat, cands.items, now=0.0), n=3, trace=trace)
>>> [cat.index.ids[i] for i in out.items], trace.for_item(2)
(['i3', 'i2', 'i1'], [{'rule': 'brand-a', 'effect': 'boosted: score x2'}])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tastemaker.rules.boosts import Boost
from tastemaker.rules.caps import Cap
from tastemaker.rules.env import RuleEnv
from tastemaker.rules.filters import Filter, InStock  # noqa: F401  (InStock: doctest)
from tastemaker.rules.margin import MarginBlend
from tastemaker.rules.pins import Pin, place_pins
from tastemaker.candidates import Candidates

PINNED_SOURCE = "pinned"


@dataclass
class RuleTrace:
    """Per item (catalog index), the rules that moved it; and the items rules removed."""

    moves: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: int, rule: str, effect: str) -> None:
        self.moves.setdefault(item, []).append({"rule": rule, "effect": effect})

    def drop(self, item: int, rule: str, effect: str) -> None:
        self.dropped.append({"item": item, "rule": rule, "effect": effect})

    def for_item(self, item: int) -> list[dict[str, str]]:
        return self.moves.get(item, [])


def _take(c: Candidates, idx: np.ndarray) -> Candidates:
    return Candidates(c.items[idx], c.scores[idx], c.sources[idx], c.because)


def score_order(scores: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Row order by score descending, ties by item index (the order ``Candidates.top`` uses)."""
    return np.lexsort((items, -scores))


def _capped(stream: Any, codes: list[int], env_rows: Any, cap: Cap, pinned: dict[int, str], n: int,
            items: np.ndarray, labels: list[Any] | None, trace: RuleTrace | None) -> Any:
    """``stream`` (display positions) with ``cap`` applied: positions pass in order, except
    those beyond the first ``cap.max_items`` of their group (every item counts, pinned ones
    too, but a pinned one is never held back), which follow the others (or are dropped when
    ``cap.strict``). ``codes`` are indexed by env row (``env_rows[position]``); with a trace,
    what the cap moved among the first ``n`` positions of its input is recorded."""
    most, strict = cap.max_items, cap.strict
    counts: dict[int, int] = {}
    held: list[int] = []
    for k, r in enumerate(stream):
        row = env_rows[r]
        code = codes[row]
        if code >= 0:
            seen = counts.get(code, 0)
            counts[code] = seen + 1
            if seen >= most and r not in pinned:
                if trace is not None and k < n:
                    assert labels is not None
                    effect = "removed" if strict else "moved down"
                    trace.add(int(items[r]), cap.name, f"{effect}: more than {most} of {cap.kind} {labels[row]!r}")
                if not strict:
                    held.append(r)
                continue
        yield r
    yield from held


def _on(rules: tuple, now: float, always: bool) -> tuple | list:
    return rules if always else [r for r in rules if r.schedule.active(now)]


@dataclass(frozen=True)
class RuleSet:
    filters: tuple[Filter, ...] = ()
    boosts: tuple[Boost, ...] = ()
    pins: tuple[Pin, ...] = ()
    caps: tuple[Cap, ...] = ()
    margin: MarginBlend | None = None

    def __post_init__(self) -> None:
        # with no scheduled rule, every rule is in force at any time: skip the checks per request
        always = all(r.schedule.always for group in (self.filters, self.boosts, self.pins, self.caps) for r in group)
        object.__setattr__(self, "_always", always)

    def __bool__(self) -> bool:
        return bool(self.filters or self.boosts or self.pins or self.caps or (self.margin and self.margin.weight))

    def active(self, now: float) -> RuleSet:
        """The rules in force at ``now`` (promotions outside their window left out)."""
        def on(rules: tuple) -> tuple:
            return tuple(r for r in rules if r.schedule.active(now))
        return replace(self, filters=on(self.filters), boosts=on(self.boosts), pins=on(self.pins), caps=on(self.caps))

    def disable(self, names: set[str] | frozenset[str]) -> RuleSet:
        """A copy without the rules named (a per-request override where allowed)."""
        def keep(rules: tuple) -> tuple:
            return tuple(r for r in rules if r.name not in names)
        return replace(self, filters=keep(self.filters), boosts=keep(self.boosts), pins=keep(self.pins),
                       caps=keep(self.caps), margin=None if self.margin and self.margin.name in names else self.margin)

    # -- phase 1 --------------------------------------------------------------------------
    def score(self, cands: Candidates, env: RuleEnv, trace: RuleTrace | None = None) -> tuple[Candidates, RuleEnv]:
        now, always = env.now, self._always  # type: ignore[attr-defined]
        pins = _on(self.pins, now, always)
        if pins:
            cands, env = self._add_pinned(cands, env, pins)
        filters = _on(self.filters, now, always)
        if filters and len(cands):
            masks = [f.mask(env) for f in filters]
            keep = masks[0] & masks[1] if len(masks) > 1 else masks[0].copy()
            for m in masks[2:]:
                keep &= m
            if not keep.all():
                if trace is not None:
                    self._trace_filtered(cands, env, keep, list(filters), masks, list(pins), trace)
                cands, env = cands.keep(keep), env.subset(keep)
        boosts = _on(self.boosts, now, always)
        if boosts and len(cands):
            env.set_scores(cands.scores)
            total = None
            for b in boosts:
                f = b.factors(env)
                if trace is not None:
                    for row in np.flatnonzero(f != 1.0).tolist():
                        verb = "boosted" if f[row] > 1 else "buried"
                        trace.add(int(cands.items[row]), b.name, f"{verb}: score x{f[row]:.3g}")
                if total is None:
                    total = f  # 1.0 * f: the product starts from the first factors
                else:
                    total *= f
            cands = Candidates(cands.items, cands.scores * total, cands.sources, cands.because)
        if self.margin is not None and self.margin.weight > 0 and len(cands):
            before = cands.scores
            after = self.margin.blend(before, env.column("margin"))
            if trace is not None:
                self._trace_rank_moves(cands.items, before, after, self.margin.name,
                                       f"margin-aware order (weight {self.margin.weight:g})", trace)
            cands = Candidates(cands.items, after, cands.sources, cands.because)
        env.set_scores(cands.scores)
        return cands, env

    @staticmethod
    def _add_pinned(cands: Candidates, env: RuleEnv, pins: list[Pin] | tuple[Pin, ...]) -> tuple[Candidates, RuleEnv]:
        index = env.catalog.index
        items = cands.items
        extra: list[int] = []
        if len(pins) <= 4:  # a comparison per pin beats building a set of the candidates
            for p in pins:
                pos = index.get(p.item_id)
                if pos is not None and pos not in extra and not (items == pos).any():
                    extra.append(pos)
        else:
            present = set(items.tolist())
            for p in pins:
                pos = index.get(p.item_id)
                if pos is not None and pos not in present:
                    extra.append(pos)
                    present.add(pos)
        if not extra:
            return cands, env
        items = np.concatenate([cands.items, np.asarray(extra, np.int64)])
        floor = float(cands.scores.min()) if len(cands) else 0.0
        scores = np.concatenate([cands.scores, np.full(len(extra), min(floor, 0.0))])
        sources = np.concatenate([cands.sources, np.full(len(extra), PINNED_SOURCE, dtype=object)])
        out = Candidates(items, scores, sources, cands.because)
        return out, env.with_items(items, scores, sources)

    @staticmethod
    def _trace_filtered(cands: Candidates, env: RuleEnv, keep: np.ndarray, filters: list[Filter],
                        masks: list[np.ndarray], pins: list[Pin], trace: RuleTrace) -> None:
        pinned: dict[int, Pin] = {}
        for p in pins:
            pos = env.catalog.index.get(p.item_id)
            if pos is not None:
                pinned.setdefault(pos, p)
        for row in np.flatnonzero(~keep).tolist():
            item = int(cands.items[row])
            which = next(f.name for f, m in zip(filters, masks) if not m[row])
            pin = pinned.get(item)
            if pin is not None:
                trace.drop(item, pin.name, f"pin dropped: excluded by {which}")
            else:
                trace.drop(item, which, "filtered out")

    @staticmethod
    def _trace_rank_moves(items: np.ndarray, before: np.ndarray, after: np.ndarray, rule: str, effect: str,
                          trace: RuleTrace) -> None:
        rank_before = np.empty(len(items), np.int64)
        rank_before[score_order(before, items)] = np.arange(len(items))
        rank_after = np.empty(len(items), np.int64)
        rank_after[score_order(after, items)] = np.arange(len(items))
        for row in np.flatnonzero(rank_before != rank_after).tolist():
            trace.add(int(items[row]), rule, f"{effect}: rank {rank_before[row] + 1} -> {rank_after[row] + 1}")

    # -- phase 2 --------------------------------------------------------------------------
    def arrange(self, ordered: Candidates, env: RuleEnv, n: int, trace: RuleTrace | None = None) -> Candidates:
        """Caps and pins on a list in display order (``env`` aligned with it), cut to ``n``."""
        return _take(ordered, self._arranged_rows(ordered.items, env, None, n, trace))

    def arrange_order(self, cands: Candidates, env: RuleEnv, order: np.ndarray, n: int,
                      trace: RuleTrace | None = None) -> tuple[Candidates, np.ndarray]:
        """``arrange(cands[order], env.subset(order), n, trace)`` (``env`` aligned with
        ``cands``) without re-indexing every column first; also returns the rows of ``cands``
        the result holds."""
        rows = order[self._arranged_rows(cands.items[order], env, order, n, trace)]
        return _take(cands, rows), rows

    def _arranged_rows(self, items: np.ndarray, env: RuleEnv, base: np.ndarray | None, n: int,
                       trace: RuleTrace | None) -> np.ndarray:
        """Positions in ``items`` (display order) of the arranged list, cut to ``n``; row ``k``
        of the display order is row ``base[k]`` of ``env`` (``k`` when ``base`` is None).

        Only the first ``n`` positions are wanted, so the caps run lazily, one generator per
        cap chained in order: each passes its input on, holding back the items over its cap
        (or dropping them when strict) until its input runs out, and the chain is pulled only
        until ``n`` unpinned items came out. That is the order the whole-list passes give
        (over_cap, then the rows over it after the others) on every position pulled."""
        now, always = env.now, self._always  # type: ignore[attr-defined]
        m = len(items)
        pins = _on(self.pins, now, always)
        caps = _on(self.caps, now, always)
        if not pins and not caps:
            return np.arange(min(n, m))
        env_rows = range(m) if base is None else base.tolist()
        pinned_rows: list[tuple[int, int]] = []
        pin_names: dict[int, str] = {}
        if pins:
            index, env_items = env.catalog.index, env.item_list
            for p in pins:
                pos = index.get(p.item_id)
                if pos is None:
                    continue
                try:  # items are unique
                    row = env_rows.index(env_items.index(pos))
                except ValueError:
                    continue
                if row not in pin_names:
                    pinned_rows.append((row, p.position))
                    pin_names[row] = p.name
        stream: Any = iter(range(m))
        for cap in caps:
            if m <= cap.max_items:  # no group can be over (strict caps only shorten the list)
                continue
            codes = env.group_codes(cap.kind).tolist()
            labels = env.group_labels(cap.kind).tolist() if trace is not None else None
            stream = _capped(stream, codes, env_rows, cap, pin_names, n, items, labels, trace)
        head: list[int] = []
        if pin_names:
            for r in stream:
                if r not in pin_names:
                    head.append(r)
                    if len(head) == n:
                        break
            placed = place_pins(head, pinned_rows)[:n]
            if trace is not None:
                for k, r in enumerate(placed):
                    if r in pin_names:
                        trace.add(int(items[r]), pin_names[r], f"pinned at position {k + 1}")
            return np.asarray(placed, np.int64)
        for r in stream:
            head.append(r)
            if len(head) == n:
                break
        return np.asarray(head, np.int64)

    # -- both -----------------------------------------------------------------------------
    def apply(self, cands: Candidates, env: RuleEnv, n: int, trace: RuleTrace | None = None) -> Candidates:
        """Score, sort by score, arrange: the whole rule pass for a pipeline without MMR."""
        cands, env = self.score(cands, env, trace)
        order = score_order(cands.scores, cands.items)
        return self.arrange(_take(cands, order), env.subset(order), n, trace)
