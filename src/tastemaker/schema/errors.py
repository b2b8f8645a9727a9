"""Validation failures that name the offending field.

Every layer that rejects input raises :class:`ValidationFailed`; the API turns it into an
RFC 9457 problem document, the CLI into a message. A field is a JSON pointer into the
request body (``/3/value`` is the ``value`` of the fourth event of a batch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import msgspec


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass
class ValidationFailed(Exception):
    """Input was refused; nothing of it was written."""

    errors: list[FieldError] = field(default_factory=list)
    title: str = "Invalid request body"
    status: int = 422

    def __str__(self) -> str:
        return "; ".join(f"{e.field or '/'}: {e.reason}" for e in self.errors)


_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `([^`]*)`")
_MISSING_FIELD = re.compile(r"Object missing required field `([^`]*)`")
_PATH_PART = re.compile(r"\[(\d+)\]|\.([A-Za-z_][\w-]*)|\[\.\.\.\]")


def msgspec_path_to_pointer(path: str) -> str:
    """Turn msgspec's ``$[3].context.geo`` into the JSON pointer ``/3/context/geo``."""
    parts = [m.group(1) or m.group(2) for m in _PATH_PART.finditer(path) if m.group(1) or m.group(2)]
    return "/" + "/".join(parts) if parts else ""


def from_msgspec(exc: msgspec.ValidationError | msgspec.DecodeError, prefix: str = "") -> ValidationFailed:
    """Convert a msgspec failure (``Expected `int`, got `str` - at `$[0].value```) into a field error."""
    message = str(exc)
    if isinstance(exc, msgspec.ValidationError):
        # msgspec omits " - at `$`" for the top-level object itself
        reason, _, path = message.rpartition(" - at `") if " - at `" in message else (message, "", "")
        pointer = prefix + msgspec_path_to_pointer(path.rstrip("`"))
        unknown = _UNKNOWN_FIELD.match(reason)
        if unknown:  # name the field itself, not the object holding it
            return ValidationFailed([FieldError(f"{pointer}/{unknown.group(1)}", "unknown field")])
        missing = _MISSING_FIELD.match(reason)
        if missing:
            return ValidationFailed([FieldError(f"{pointer}/{missing.group(1)}", "is required")])
        return ValidationFailed([FieldError(pointer, reason)])
    return ValidationFailed([FieldError(prefix, f"malformed JSON: {message}")], title="Malformed JSON", status=400)
