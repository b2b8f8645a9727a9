"""Field-by-field validation of a parsed document, collecting every error with its place.

Each error names the field's JSON pointer and, through ``where(path, offset)``, its place in
the source text (a YAML line and column); readers return None after recording what is wrong,
and the caller raises :class:`~tastemaker.schema.errors.ValidationFailed` with
:attr:`FieldChecker.errors` at the end. The experiment spec, the placement document and the
API bodies built on them share these readers.

>>> c = FieldChecker(lambda path, offset: "line 3: ")
>>> c.number("x", "/alpha", 0, 1), c.mapping({"a": 1, "b": 2}, "", ("a",))
(None, {'a': 1, 'b': 2})
>>> [(e.field, e.reason) for e in c.errors]
[('/alpha', 'line 3: must be a number'), ('/b', "line 3: unknown field 'b' (allowed: a)")]
"""

from __future__ import annotations

import math
from typing import Any, Callable

from tastemaker.schema.errors import FieldError


class FieldChecker:
    not_a_mapping = "must be an object"  # what a non-mapping value is told (YAML documents say "a mapping")

    def __init__(self, where: Callable[[str, int], str] | None = None):
        self.where = where or (lambda path, offset: "")
        self.errors: list[FieldError] = []

    def fail(self, path: str, reason: str, offset: int = 0) -> None:
        self.errors.append(FieldError(path, self.where(path, offset) + reason))

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        """``value`` when it is a mapping (its unknown keys recorded as errors), else None."""
        if not isinstance(value, dict):
            self.fail(path, self.not_a_mapping)
            return None
        for key in value:
            if key not in allowed:
                self.fail(f"{path}/{key}", f"unknown field '{key}' (allowed: {', '.join(allowed)})")
        return value

    def number(self, value: Any, path: str, lo: float = -math.inf, hi: float = math.inf, default: float | None = None,
               integer: bool = False) -> float | None:
        """A finite number in ``[lo, hi]`` (an int where ``integer``); ``default`` for a missing one."""
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)) \
                or not math.isfinite(value):
            self.fail(path, "must be an integer" if integer else "must be a number")
            return None
        if not lo <= value <= hi:
            self.fail(path, f"must be between {lo:g} and {hi:g}")
            return None
        return value

    def text(self, value: Any, path: str, limit: int = 1000) -> str:
        if not isinstance(value, str) or len(value) > limit:
            self.fail(path, f"must be a string of at most {limit} characters")
            return ""
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str | None:
        if value not in choices:
            self.fail(path, f"must be one of: {', '.join(choices)}")
            return None
        return value
