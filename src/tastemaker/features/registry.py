"""The feature registry: the built-in definitions plus user-defined ones, and the plan that
turns them into ring tables.

Definitions share their storage: every distinct ``(value, event types)`` a definition reads
over one window geometry is one *channel* of one ring table per entity, so ``user_views_1h``
and a ratio over the same hour's views read the same numbers.

>>> registry = FeatureRegistry()
>>> len(registry.definitions) >= 20, registry.get("item_ctr_1d").entity
(True, 'item')
>>> plan = compile_plan(registry.definitions)
>>> sorted(g.window_s for g in plan.tables["user"])
[60.0, 300.0, 3600.0, 86400.0]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from tastemaker.features.definitions import (
    DEFAULT_DEFINITIONS,
    ENTITIES,
    FeatureDefinition,
    problems,
)
from tastemaker.features.windows import Geometry, default_buckets
from tastemaker.schema.errors import FieldError, ValidationFailed

Channel = tuple[str, frozenset[str]]  # (``count``, a value field or ``has:<field>``; event types, empty: all)
Slot = tuple[Geometry, int]  # a channel's table and column


@dataclass
class Plan:
    """Per entity: each geometry's channels, and the event-type sets whose latest time is kept."""

    tables: dict[str, dict[Geometry, list[Channel]]] = field(default_factory=lambda: {e: {} for e in ENTITIES})
    lasts: dict[str, list[frozenset[str]]] = field(default_factory=lambda: {e: [] for e in ENTITIES})
    reads: dict[str, tuple[Slot | int, ...]] = field(default_factory=dict)  # definition -> what it reads

    def slot(self, entity: str, geometry: Geometry, channel: Channel) -> Slot:
        channels = self.tables[entity].setdefault(geometry, [])
        if channel not in channels:
            channels.append(channel)
        return geometry, channels.index(channel)

    def last(self, entity: str, types: frozenset[str]) -> int:
        kept = self.lasts[entity]
        if types not in kept:
            kept.append(types)
        return kept.index(types)

    def value_fields(self) -> set[str]:
        """Every value field some channel reads (without ``has:``)."""
        return {spec.removeprefix("has:") for tables in self.tables.values()
                for channels in tables.values() for spec, _ in channels if spec != "count"}


def compile_plan(definitions: Iterable[FeatureDefinition]) -> Plan:
    """The ring tables and channels the definitions need, and what each one reads.

    Category features keep no rings of their own: a category's window is the sum of its
    items' windows (and its latest event the latest of theirs), read from the item rings at
    read time with the catalog's membership then, so an event costs nothing per category."""
    plan = Plan()
    for d in definitions:
        e, types = ("item" if d.entity == "category" else d.entity), d.types
        if d.aggregation == "since_last":
            plan.reads[d.name] = (plan.last(e, types),)
            continue
        g = Geometry(float(d.window_s), d.buckets or default_buckets(float(d.window_s)))
        if d.aggregation in ("count", "rate"):
            reads = [plan.slot(e, g, ("count", types))]
        elif d.aggregation == "sum":
            reads = [plan.slot(e, g, (d.value, types))]
        elif d.aggregation == "mean":
            reads = [plan.slot(e, g, (d.value, types)), plan.slot(e, g, ("has:" + d.value, types))]
        elif d.aggregation == "ratio":
            reads = [plan.slot(e, g, (d.value or "count", types)),
                     plan.slot(e, g, (d.denominator_value or "count", d.denominator_types))]
        elif d.aggregation == "mean_ratio":
            den = d.denominator_types
            reads = [plan.slot(e, g, (d.value, types)), plan.slot(e, g, ("has:" + d.value, types)),
                     plan.slot(e, g, (d.denominator_value, den)), plan.slot(e, g, ("has:" + d.denominator_value, den))]
        else:  # trend
            long = Geometry(float(d.long_window_s), default_buckets(float(d.long_window_s)))
            reads = [plan.slot(e, g, ("count", types)), plan.slot(e, long, ("count", types))]
        plan.reads[d.name] = tuple(reads)
    return plan


class FeatureRegistry:
    """The definitions in force: built-ins, then user-defined ones (from the feature
    document or the API) in the order declared. Names are unique."""

    def __init__(self, custom: Iterable[FeatureDefinition] = ()):
        self.builtin: tuple[FeatureDefinition, ...] = DEFAULT_DEFINITIONS
        self.custom: tuple[FeatureDefinition, ...] = ()
        self.set_custom(custom)

    @property
    def definitions(self) -> tuple[FeatureDefinition, ...]:
        return self.builtin + self.custom

    def get(self, name: str) -> FeatureDefinition | None:
        return next((d for d in self.definitions if d.name == name), None)

    def set_custom(self, custom: Iterable[FeatureDefinition]) -> None:
        """Replace the user-defined definitions, all or nothing (422 naming each problem)."""
        custom = tuple(replace(d, builtin=False) for d in custom)
        check(custom, taken={d.name for d in self.builtin})
        self.custom = custom


def check(definitions: Iterable[FeatureDefinition], taken: set[str] = frozenset(), prefix: str = "") -> None:
    """Raise ValidationFailed naming every invalid field (``/<i>/<field>``) and clashing name."""
    errors: list[FieldError] = []
    seen = set(taken)
    for i, d in enumerate(definitions):
        errors += [FieldError(f"{prefix}/{i}/{name}", reason) for name, reason in problems(d)]
        if d.name in seen:
            errors.append(FieldError(f"{prefix}/{i}/name", f"a feature named '{d.name}' exists already"))
        seen.add(d.name)
    if errors:
        raise ValidationFailed(errors, title="Invalid feature definition")
