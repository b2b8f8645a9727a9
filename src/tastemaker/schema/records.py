"""The records of the public contract: events, items and users (see DESIGN.md).

They are msgspec structs: decoding a request body validates types and constraints in one
C-speed pass, and field names here are the JSON field names of the public API.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
ShortText = Annotated[str, msgspec.Meta(max_length=1024)]
LongText = Annotated[str, msgspec.Meta(max_length=65536)]
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
EventType = Annotated[str, msgspec.Meta(pattern=EVENT_TYPE_PATTERN)]
# An event's type is checked against the registry (which only holds well-formed names), so a
# misspelt or mis-cased type gets "did you mean 'view'?" instead of msgspec's raw regex; the
# pattern stays in the JSON Schema for the documentation.
EventTypeRef = Annotated[str, msgspec.Meta(min_length=1, max_length=64,
                                           extra_json_schema={"pattern": EVENT_TYPE_PATTERN})]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Timestamp = float | str  # epoch seconds or ISO 8601; normalised by schema.timestamps

BUILTIN_EVENT_TYPES: tuple[str, ...] = (
    "view",
    "click",
    "add_to_cart",
    "purchase",
    "search",
    "rating",
    "like",
    "dislike",
    "share",
    "impression",
    "feedback",
)


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """One thing a user did. ``id`` is the idempotency key: a resent event is a duplicate."""

    id: Id
    type: EventTypeRef
    user_id: Id
    session_id: Id | None = None
    item_id: Id | None = None
    item_ids: Annotated[list[Id], msgspec.Meta(max_length=1000)] | None = None
    value: float | None = None
    query: ShortText | None = None
    context: dict[str, Any] | None = None
    timestamp: Timestamp | None = None
    recommendation_id: Id | None = None
    properties: dict[str, Any] | None = None
    schema_version: Annotated[int, msgspec.Meta(ge=1)] | None = None

    def items(self) -> list[str]:
        """The item ids this event is about (``item_id`` first, then ``item_ids``)."""
        out = [self.item_id] if self.item_id is not None else []
        if self.item_ids:
            out.extend(self.item_ids)
        return out


class Item(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Something that can be recommended."""

    id: Id
    title: ShortText | None = None
    description: LongText | None = None
    categories: Annotated[list[ShortText], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    brand: ShortText | None = None
    price: NonNegative | None = None
    margin: float | None = None
    stock: Annotated[int, msgspec.Meta(ge=0)] | None = None
    tags: Annotated[list[ShortText], msgspec.Meta(max_length=200)] = msgspec.field(default_factory=list)
    created_at: Timestamp | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)


class User(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """A person known by an opaque id; anonymous visitors are users too."""

    id: Id
    traits: dict[str, Any] = msgspec.field(default_factory=dict)
    consent: dict[str, bool] = msgspec.field(default_factory=dict)


ITEM_FIELDS: frozenset[str] = frozenset(Item.__struct_fields__)
USER_FIELDS: frozenset[str] = frozenset(User.__struct_fields__)
