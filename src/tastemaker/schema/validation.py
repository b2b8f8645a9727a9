"""Decoding and validating request bodies: all-or-nothing, every error names its field."""

from __future__ import annotations

import time
from typing import TypeVar

import msgspec

from tastemaker.schema.errors import FieldError, ValidationFailed, from_msgspec
from tastemaker.schema.records import Event, Item, User
from tastemaker.schema.registry import EventSchemaRegistry
from tastemaker.schema.timestamps import YEAR_ONE, parse_timestamp

MAX_BATCH = 10_000
FUTURE_TOLERANCE_S = 86_400.0  # clocks drift; a day ahead is a bug, not drift

T = TypeVar("T", Event, Item, User)

_single = {cls: msgspec.json.Decoder(cls) for cls in (Event, Item, User)}
_batch = {cls: msgspec.json.Decoder(list[cls]) for cls in (Event, Item, User)}


def decode_batch(body: bytes, cls: type[T], *, allow_single: bool = True) -> tuple[list[T], bool]:
    """Decode one record or an array of records; returns (records, was_array)."""
    stripped = body.lstrip()
    if not stripped:
        raise ValidationFailed([FieldError("", "request body is empty")], title="Empty body", status=400)
    is_array = stripped[:1] == b"["
    if not is_array and not allow_single:
        raise ValidationFailed([FieldError("", "expected a JSON array")])
    try:
        records = _batch[cls].decode(body) if is_array else [_single[cls].decode(body)]
    except msgspec.ValidationError as exc:
        # msgspec stops at the first type error, even in a body that is not JSON at all
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError as malformed:
            raise from_msgspec(malformed) from None
        raise from_msgspec(exc) from None
    except msgspec.DecodeError as exc:
        raise from_msgspec(exc) from None
    if not records:
        raise ValidationFailed([FieldError("", "the batch is empty")])
    if len(records) > MAX_BATCH:
        raise ValidationFailed([FieldError("", f"a batch holds at most {MAX_BATCH} records, got {len(records)}")], status=413, title="Batch too large")
    return records, is_array


def _pointer(index: int, is_array: bool) -> str:
    return f"/{index}" if is_array else ""


def normalize_events(events: list[Event], registry: EventSchemaRegistry, is_array: bool = True, now: float | None = None) -> list[Event]:
    """Check events against their schemas and normalise timestamps to epoch seconds, in place.

    Raises :class:`ValidationFailed` listing every error (at most 100) if any event is bad.
    """
    now = time.time() if now is None else now
    errors: list[FieldError] = []
    for index, event in enumerate(events):
        where = _pointer(index, is_array)
        if event.timestamp is None:
            event.timestamp = now
        else:
            try:
                ts = parse_timestamp(event.timestamp)
            except ValueError as exc:
                errors.append(FieldError(f"{where}/timestamp", str(exc)))
            else:
                if ts > now + FUTURE_TOLERANCE_S:
                    errors.append(FieldError(f"{where}/timestamp", "is more than a day in the future"))
                event.timestamp = ts
        errors.extend(registry.check(event, where))
        if len(errors) >= 100:
            break
    if errors:
        raise ValidationFailed(errors[:100], title="Invalid events")
    return events


def normalize_documents(docs: list[T], is_array: bool = True) -> list[T]:
    """Reject duplicate ids within one batch; normalise items' ``created_at`` to epoch seconds."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, item in enumerate(docs):
        where = _pointer(index, is_array)
        if item.id in seen:
            errors.append(FieldError(f"{where}/id", f"'{item.id}' appears twice in the batch"))
        seen.add(item.id)
        if isinstance(item, Item) and item.created_at is not None:
            try:
                item.created_at = parse_timestamp(item.created_at, min_epoch=YEAR_ONE)
            except ValueError as exc:
                errors.append(FieldError(f"{where}/created_at", str(exc)))
    if errors:
        raise ValidationFailed(errors[:100], title="Invalid records")
    return docs


def decode_events(body: bytes, registry: EventSchemaRegistry, now: float | None = None) -> list[Event]:
    """Decode and validate a ``POST /v1/events`` body."""
    events, is_array = decode_batch(body, Event)
    return normalize_events(events, registry, is_array, now)
