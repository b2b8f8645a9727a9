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


_BYTE_OFFSET = re.compile(r"\(byte (\d+)\)$")


def describe_malformed(message: str, body: bytes | None = None) -> str:
    r"""msgspec's decode error as a reason a person can act on: what, and where.

    >>> print(describe_malformed("JSON is malformed: object keys must be strings (byte 8)", b'{"a": 1,,}'))
    malformed JSON at line 1, column 9 (byte 8): object keys must be strings, near `{"a": 1,,}`
    >>> print(describe_malformed("JSON is malformed: invalid character (byte 11)", b'{\n"a": tru}'))
    malformed JSON at line 2, column 10 (byte 11): invalid character, near `\n"a": tru}`
    >>> describe_malformed("Input data was truncated")
    'malformed JSON: the body ends before the JSON value does (a missing closing bracket or quote?)'
    """
    if message == "Input data was truncated":
        return "malformed JSON: the body ends before the JSON value does (a missing closing bracket or quote?)"
    what = message.removeprefix("JSON is malformed: ")
    offset = _BYTE_OFFSET.search(what)
    if offset is None or body is None:
        return f"malformed JSON: {what}"
    at = int(offset.group(1))
    what = what[: offset.start()].rstrip()
    line = body.count(b"\n", 0, at) + 1
    column = at - (body.rfind(b"\n", 0, at) + 1) + 1
    # msgspec's offset may be just past the bad token: show a little on both sides
    near = body[max(at - 10, 0): at + 10].decode("utf-8", "replace").replace("\n", "\\n")
    return f"malformed JSON at line {line}, column {column} (byte {at}): {what}, near `{near}`"


def from_msgspec(exc: msgspec.ValidationError | msgspec.DecodeError, prefix: str = "",
                 body: bytes | None = None) -> ValidationFailed:
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
        if reason == "Number out of range":  # msgspec names no position for this one
            reason = "a number is too large for a 64-bit float (beyond about 1.8e308)"
        return ValidationFailed([FieldError(pointer, reason)])
    return ValidationFailed([FieldError(prefix, describe_malformed(message, body))], title="Malformed JSON", status=400)
