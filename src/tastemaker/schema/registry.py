"""The event-schema registry: one versioned schema per event type.

Built-in types (view, click, …) ship with version 1. Custom types are registered before
use, and a type evolves only by backward-compatible versions: every event that was valid
under the previous version stays valid under the new one, so old events, replays and
imports never break. Anything else is refused with the reasons.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Annotated, Literal

import msgspec

from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.schema.records import BUILTIN_EVENT_TYPES, Event, EventType

Requirement = Literal["item", "value", "query", "recommendation_id", "session_id"]
PropertyType = Literal["string", "number", "integer", "boolean", "object", "array"]

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


#: Values of types without a declared range must still be ordinary numbers: anything
#: larger is a unit mistake or an attack, and would overflow the arithmetic of training.
VALUE_LIMIT = 1e12
#: Ratings must lie on this scale unless ``TASTEMAKER_RATING_SCALE`` (or a registered version
#: of ``rating``) says otherwise: 0..5 admits both the 1..5 stars of MovieLens-100k and the
#: 0.5..5 half stars of later sets.
DEFAULT_RATING_SCALE: tuple[float, float] = (0.0, 5.0)
_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REGISTER_HINT = "register a custom type with POST /v1/event-schemas"


class PropertySpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    type: PropertyType
    required: bool = False


class EventSchema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """What an event of one type must carry. ``properties`` describe ``event.properties``."""

    type: EventType
    version: int = 1
    # bounded: a registered schema is checked against every event of its type
    requires: Annotated[list[Requirement], msgspec.Meta(max_length=16)] = msgspec.field(default_factory=list)
    properties: Annotated[dict[str, PropertySpec], msgspec.Meta(max_length=256)] = msgspec.field(default_factory=dict)
    value_min: float | None = None
    value_max: float | None = None
    description: Annotated[str, msgspec.Meta(max_length=4096)] | None = None


class SchemaConflict(Exception):
    """A new schema version would break events that the previous version accepted."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def builtin_schemas(rating_scale: tuple[float, float] = DEFAULT_RATING_SCALE) -> list[EventSchema]:
    """Version 1 of every built-in type; ``rating`` values must lie on ``rating_scale``."""
    requires: dict[str, list[Requirement]] = {"rating": ["item", "value"], "search": ["query"]}
    low, high = rating_scale
    return [
        EventSchema(type=t, version=1, requires=requires.get(t, ["item"]), description=f"built-in {t} event",
                    value_min=low if t == "rating" else None, value_max=high if t == "rating" else None)
        for t in BUILTIN_EVENT_TYPES
    ]


def unknown_type_reason(event_type: str, known: list[str]) -> str:
    """Why ``event_type`` is refused, with the closest known type and where custom types come from.

    >>> unknown_type_reason("veiw", ["view", "click"])
    "unknown event type 'veiw'; did you mean 'view'? Known types: click, view; register a custom type with POST /v1/event-schemas"
    >>> unknown_type_reason("View", ["view"])[:80]
    "event types are lower case: did you mean 'view'? Known types: view; register a c"
    """
    listing = f"Known types: {', '.join(sorted(known))}; {REGISTER_HINT}"
    if event_type.lower() in known:
        return f"event types are lower case: did you mean '{event_type.lower()}'? {listing}"
    if not _TYPE_PATTERN.match(event_type):
        shape = "a type is 1-64 characters of a-z, 0-9 and _, starting with a letter"
        close = difflib.get_close_matches(event_type.lower(), known, n=1)
        guess = f"; did you mean '{close[0]}'?" if close else ""
        return f"'{event_type}' is not a valid event type ({shape}){guess} {listing}"
    close = difflib.get_close_matches(event_type, known, n=1)
    guess = f"; did you mean '{close[0]}'?" if close else ";"
    return f"unknown event type '{event_type}'{guess} {listing}"


def breaking_changes(old: EventSchema, new: EventSchema) -> list[str]:
    """Why ``new`` cannot follow ``old`` (empty when it is backward compatible)."""
    reasons: list[str] = []
    if new.version != old.version + 1:
        reasons.append(f"version: must be {old.version + 1}, got {new.version}")
    for req in sorted(set(new.requires) - set(old.requires)):
        reasons.append(f"requires: '{req}' is newly required, but events of version {old.version} may lack it")
    for name, spec in new.properties.items():
        before = old.properties.get(name)
        if before is None and spec.required:
            reasons.append(f"properties.{name}: a new property cannot be required")
        elif before is not None and before.type != spec.type:
            reasons.append(f"properties.{name}: type changed from {before.type} to {spec.type}")
        elif before is not None and spec.required and not before.required:
            reasons.append(f"properties.{name}: optional property became required")
    if new.value_min is not None and (old.value_min is None or new.value_min > old.value_min):
        reasons.append("value_min: the allowed value range was narrowed")
    if new.value_max is not None and (old.value_max is None or new.value_max < old.value_max):
        reasons.append("value_max: the allowed value range was narrowed")
    return reasons


class EventSchemaRegistry:
    """All versions of all event schemas; validates events against their type's schema.

    >>> registry = EventSchemaRegistry()
    >>> registry.check(Event(id="e1", type="rating", user_id="u1", item_id="i1"), "/0")
    [FieldError(field='/0/value', reason="a 'rating' event requires value")]
    """

    def __init__(self, stored: list[EventSchema] | None = None,
                 rating_scale: tuple[float, float] = DEFAULT_RATING_SCALE):
        self._versions: dict[str, list[EventSchema]] = {}
        for schema in builtin_schemas(rating_scale) + sorted(stored or [], key=lambda s: (s.type, s.version)):
            versions = self._versions.setdefault(schema.type, [])
            if not versions or schema.version > versions[-1].version:
                versions.append(schema)

    def latest(self, event_type: str) -> EventSchema | None:
        versions = self._versions.get(event_type)
        return versions[-1] if versions else None

    def versions(self, event_type: str) -> list[EventSchema]:
        return list(self._versions.get(event_type, []))

    def all_latest(self) -> list[EventSchema]:
        return [versions[-1] for versions in self._versions.values()]

    def register(self, schema: EventSchema) -> EventSchema:
        """Add a new version; raise :class:`SchemaConflict` if it is not backward compatible.

        A range that is not finite or empty is refused first (:class:`ValidationFailed`, 422).
        """
        bad = [FieldError(f"/{name}", "must be a finite number") for name in ("value_min", "value_max")
               if getattr(schema, name) is not None and not math.isfinite(getattr(schema, name))]
        if not bad and None not in (schema.value_min, schema.value_max) and schema.value_min > schema.value_max:
            bad = [FieldError("/value_min", "must not be greater than value_max")]
        if bad:
            raise ValidationFailed(bad, title="Invalid event schema")
        current = self.latest(schema.type)
        if current is None:
            # A brand-new type may require anything: no earlier events exist.
            if schema.version != 1:
                raise SchemaConflict([f"version: the first version of '{schema.type}' must be 1"])
        else:
            reasons = breaking_changes(current, schema)
            if reasons:
                raise SchemaConflict(reasons)
        self._versions.setdefault(schema.type, []).append(schema)
        return schema

    def check(self, event: Event, where: str) -> list[FieldError]:
        """Field errors of ``event`` under its schema (latest, or ``event.schema_version``)."""
        versions = self._versions.get(event.type)
        if not versions:
            return [FieldError(f"{where}/type", unknown_type_reason(event.type, list(self._versions)))]
        schema = versions[-1]
        if event.schema_version is not None:
            matching = [s for s in versions if s.version == event.schema_version]
            if not matching:
                return [FieldError(f"{where}/schema_version", f"'{event.type}' has no schema version {event.schema_version}")]
            schema = matching[0]
        errors: list[FieldError] = []
        for req in schema.requires:
            present = bool(event.item_id or event.item_ids) if req == "item" else getattr(event, req) is not None
            if not present:
                name = "item_id" if req == "item" else req
                errors.append(FieldError(f"{where}/{name}", f"a '{event.type}' event requires {name}"))
        if event.value is not None:
            errors.extend(value_errors(event.value, schema, f"{where}/value"))
        props = event.properties or {}
        for name, spec in schema.properties.items():
            if name not in props:
                if spec.required:
                    errors.append(FieldError(f"{where}/properties/{name}", "required property is missing"))
                continue
            value = props[name]
            ok = isinstance(value, _PY_TYPES[spec.type]) and not (spec.type != "boolean" and isinstance(value, bool))
            if not ok:
                errors.append(FieldError(f"{where}/properties/{name}", f"must be of type {spec.type}"))
        return errors


def value_errors(value: float, schema: EventSchema, field: str) -> list[FieldError]:
    """A value must be finite, within the type's range, and within :data:`VALUE_LIMIT` anyway."""
    low, high = schema.value_min, schema.value_max
    if not math.isfinite(value):
        return [FieldError(field, "must be a finite number")]
    if (low is not None and value < low) or (high is not None and value > high):
        # formatted only for a refused value: every rating at ingest passes through here
        bound = f">= {_num(low)}" if low is not None and value < low else f"<= {_num(high)}"
        scale = f" ('{schema.type}' values range from {_num(low)} to {_num(high)})" if None not in (low, high) else ""
        return [FieldError(field, f"must be {bound}{scale}")]
    if abs(value) > VALUE_LIMIT:
        return [FieldError(field, f"must be between -{VALUE_LIMIT:.0e} and {VALUE_LIMIT:.0e}; "
                                  f"declare value_min/value_max in the type's schema for a narrower range")]
    return []


def _num(x: float | None) -> str:
    """1.0 -> '1', 0.5 -> '0.5': ranges read as people write them."""
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))
