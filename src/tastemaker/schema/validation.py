"""Decoding and validating request bodies: all-or-nothing, every error names its field."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import msgspec

from tastemaker.schema.errors import FieldError, ValidationFailed, from_msgspec
from tastemaker.schema.records import Event, Item, User
from tastemaker.schema.registry import EventSchemaRegistry
from tastemaker.schema.timestamps import YEAR_ONE, parse_timestamp

MAX_BATCH = 10_000
FUTURE_TOLERANCE_S = 86_400.0  # clocks drift; a day ahead is a bug, not drift

T = TypeVar("T", Event, Item, User)
R = TypeVar("R")


@dataclass(frozen=True)
class InputLimits:
    """Bounds on free-form JSON (event ``context``/``properties``, item ``properties``, user ``traits``).

    Typed fields have their own bounds (``records``); these keep one request from storing
    megabytes in a field nobody reads, or nesting deep enough to exhaust the stack of the
    decoder or of anything that walks the document later.
    """

    max_string_bytes: int = 64 * 1024  # per string (keys included), UTF-8
    max_document_bytes: int = 1024 * 1024  # the free-form fields of one record, as JSON
    max_depth: int = 32  # nesting of objects/arrays inside one free-form field


DEFAULT_LIMITS = InputLimits()


def too_deep(max_depth: int, field: str = "") -> ValidationFailed:
    reason = (f"JSON is nested more than {max_depth} levels deep; flatten the document "
              f"(free-form fields such as properties, context and traits allow {max_depth} levels)")
    return ValidationFailed([FieldError(field, reason)], title="JSON nested too deeply", status=400)


def decode_json(decode: Callable[[bytes], R], body: bytes, prefix: str = "") -> R:
    """``decode(body)``, every failure turned into a :class:`ValidationFailed` naming where.

    msgspec has no depth limit of its own: a body nested ~1,000 levels deep exhausts the
    interpreter's recursion limit inside the decoder, which unwinds cleanly with a
    ``RecursionError`` that is answered here as a 400 (nothing was decoded, nothing written).
    """
    try:
        return decode(body)
    except msgspec.ValidationError as exc:
        # msgspec stops at the first type error, even in a body that is not JSON at all
        try:
            msgspec.json.decode(body)
        except msgspec.DecodeError as malformed:
            raise from_msgspec(malformed, prefix, body) from None
        except RecursionError:
            raise too_deep(DEFAULT_LIMITS.max_depth, prefix) from None
        raise from_msgspec(exc, prefix) from None
    except msgspec.DecodeError as exc:
        raise from_msgspec(exc, prefix, body) from None
    except RecursionError:
        raise too_deep(DEFAULT_LIMITS.max_depth, prefix) from None


def check_free_form(value: Any, field: str, limits: InputLimits = DEFAULT_LIMITS) -> list[FieldError]:
    """Errors of one free-form value: strings too long; raises a 400 when nested too deep.

    Iterative (an explicit stack), so the walk itself cannot run out of stack.

    >>> check_free_form({"a": {"b": "x" * 10}}, "/properties", InputLimits(max_string_bytes=4))
    [FieldError(field='/properties/a/b', reason='string of 10 bytes; at most 4 bytes allowed')]
    """
    errors: list[FieldError] = []
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    limit = limits.max_string_bytes

    def check_str(text: str, where: str) -> None:
        # len() counts characters; UTF-8 needs 1-4 bytes each, so encode only when it may matter
        if len(text) * 4 > limit and (size := len(text.encode("utf-8", "surrogatepass"))) > limit:
            errors.append(FieldError(where, f"string of {size} bytes; at most {limit} bytes allowed"))

    while stack and len(errors) < 100:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            check_str(node, where)
        elif isinstance(node, (dict, list)):
            if depth >= limits.max_depth:
                raise too_deep(limits.max_depth, where)
            if isinstance(node, dict):
                for key, child in node.items():
                    check_str(key, where)
                    stack.append((child, f"{where}/{_escape(key)}", depth + 1))
            else:
                stack.extend((child, f"{where}/{i}", depth + 1) for i, child in enumerate(node))
    return errors


def _escape(key: str) -> str:
    """A JSON pointer token (RFC 6901): ``~`` and ``/`` escaped."""
    return key.replace("~", "~0").replace("/", "~1")


_encode = msgspec.json.Encoder().encode
_single = {cls: msgspec.json.Decoder(cls) for cls in (Event, Item, User)}
_batch = {cls: msgspec.json.Decoder(list[cls]) for cls in (Event, Item, User)}


def check_record(parts: dict[str, Any], where: str, limits: InputLimits) -> list[FieldError]:
    """String and depth errors of a record's free-form fields; a 413 when together too large.

    Each field is encoded once (C speed): its size bounds every string in it, and its bracket
    count bounds its depth, so the walk of :func:`check_free_form` only runs for a field that
    might break a limit (10,000 events with small contexts: +11 ms over decoding, not +36 ms).
    """
    errors: list[FieldError] = []
    sizes: dict[str, int] = {}
    for name, value in parts.items():
        if not value:
            continue
        try:
            encoded = _encode(value)
        except RecursionError:  # decoded, yet too deep to encode from here: far over the limit
            raise too_deep(limits.max_depth, f"{where}/{name}") from None
        sizes[name] = len(encoded)
        if len(encoded) > limits.max_string_bytes or encoded.count(b"{") + encoded.count(b"[") > limits.max_depth:
            errors.extend(check_free_form(value, f"{where}/{name}", limits))
    total = sum(sizes.values())
    if not errors and total > limits.max_document_bytes:
        largest = max(sizes, key=sizes.__getitem__)
        raise ValidationFailed(
            [FieldError(f"{where}/{largest}", f"free-form fields hold {total} bytes of JSON; "
                                              f"at most {limits.max_document_bytes} bytes per record")],
            title="Record too large", status=413)
    return errors


def decode_batch(body: bytes, cls: type[T], *, allow_single: bool = True) -> tuple[list[T], bool]:
    """Decode one record or an array of records; returns (records, was_array)."""
    stripped = body.lstrip()
    if not stripped:
        raise ValidationFailed([FieldError("", "request body is empty")], title="Empty body", status=400)
    is_array = stripped[:1] == b"["
    if not is_array and not allow_single:
        raise ValidationFailed([FieldError("", "expected a JSON array")])
    records = decode_json(_batch[cls].decode, body) if is_array else [decode_json(_single[cls].decode, body)]
    if not records:
        raise ValidationFailed([FieldError("", "the batch is empty")])
    if len(records) > MAX_BATCH:
        raise ValidationFailed([FieldError("", f"a batch holds at most {MAX_BATCH} records, got {len(records)}")], status=413, title="Batch too large")
    return records, is_array


def _pointer(index: int, is_array: bool) -> str:
    return f"/{index}" if is_array else ""


def normalize_events(events: list[Event], registry: EventSchemaRegistry, is_array: bool = True, now: float | None = None,
                     limits: InputLimits = DEFAULT_LIMITS) -> list[Event]:
    """Check events against their schemas and normalise timestamps to epoch seconds, in place.

    Raises :class:`ValidationFailed` listing every error (at most 100) if any event is bad.
    """
    errors: list[FieldError] = []
    check_events(events, 0, len(events), registry, errors, is_array, time.time() if now is None else now, limits)
    raise_event_errors(errors)
    return events


def check_events(events: list[Event], start: int, stop: int, registry: EventSchemaRegistry, errors: list[FieldError],
                 is_array: bool, now: float, limits: InputLimits) -> None:
    """Check and normalise ``events[start:stop]`` in place, appending to ``errors`` (stops at 100).

    The unit of :func:`normalize_events`; the ingest service calls it a slice at a time so a
    10,000-event batch never holds the event loop for its whole validation.
    """
    for index in range(start, min(stop, len(events))):
        if len(errors) >= 100:
            return
        event = events[index]
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
        if event.context or event.properties:
            errors.extend(check_record({"context": event.context, "properties": event.properties}, where, limits))


def raise_event_errors(errors: list[FieldError]) -> None:
    """Raise the 422 that lists ``errors`` (the first 100), if there are any."""
    if errors:
        raise ValidationFailed(errors[:100], title="Invalid events")


def normalize_documents(docs: list[T], is_array: bool = True, limits: InputLimits = DEFAULT_LIMITS) -> list[T]:
    """Reject duplicate ids within one batch and oversized free-form fields; normalise items'
    ``created_at`` to epoch seconds."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, item in enumerate(docs):
        where = _pointer(index, is_array)
        if item.id in seen:
            errors.append(FieldError(f"{where}/id", f"'{item.id}' appears twice in the batch"))
        seen.add(item.id)
        free = {"properties": item.properties} if isinstance(item, Item) else {"traits": item.traits, "consent": item.consent}
        errors.extend(check_record(free, where, limits))
        if isinstance(item, Item) and item.created_at is not None:
            try:
                item.created_at = parse_timestamp(item.created_at, min_epoch=YEAR_ONE)
            except ValueError as exc:
                errors.append(FieldError(f"{where}/created_at", str(exc)))
    if errors:
        raise ValidationFailed(errors[:100], title="Invalid records")
    return docs


def decode_events(body: bytes, registry: EventSchemaRegistry, now: float | None = None,
                  limits: InputLimits = DEFAULT_LIMITS) -> list[Event]:
    """Decode and validate a ``POST /v1/events`` body."""
    events, is_array = decode_batch(body, Event)
    return normalize_events(events, registry, is_array, now, limits)
