"""Typed records (events, items, users, requests) and the event-schema registry."""

from tastemaker.schema.records import BUILTIN_EVENT_TYPES, Event, Item, User
from tastemaker.schema.errors import FieldError, ValidationFailed

__all__ = ["BUILTIN_EVENT_TYPES", "Event", "Item", "User", "FieldError", "ValidationFailed"]
