"""Configuration documents: YAML with the line and column of every node, and a checker that
collects every error with its JSON pointer and position (placements, rules).

>>> doc, marks = parse_yaml("a:\\n  b: 1\\n")
>>> doc, marks.where("/a/b")
({'a': {'b': 1}}, 'line 2, column 6: ')
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import yaml

from tastemaker.rules.expressions import Expression, ExpressionError, compile_expression
from tastemaker.rules.schedule import Schedule
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.schema.field_checker import FieldChecker

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


class Marks:
    """Where each JSON pointer starts in the source text (empty for JSON documents)."""

    def __init__(self) -> None:
        self.at: dict[str, tuple[int, int]] = {}
        self.quoted: dict[str, bool] = {}

    def where(self, path: str, offset: int = 0) -> str:
        mark = self.at.get(path)
        if mark is None:
            return ""
        line, col = mark
        return f"line {line}, column {col + offset + (1 if self.quoted.get(path) else 0)}: "


def parse_yaml(text: str, source: str = "placements.yaml") -> tuple[Any, Marks]:
    """The document as plain Python values, and the line/column of every node."""
    marks = Marks()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ValidationFailed([FieldError("", f"{where}{source} is not valid YAML: {getattr(exc, 'problem', exc)}")],
                               title="Invalid placement configuration") from None
    if node is None:
        return {}, marks
    constructor = yaml.SafeLoader("")
    errors: list[FieldError] = []

    def walk(n: yaml.Node, path: str) -> Any:
        marks.at[path] = (n.start_mark.line + 1, n.start_mark.column + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in n.value:
                key = str(constructor.construct_object(k, deep=True))
                child = f"{path}/{key}"
                if key in out:
                    errors.append(FieldError(child, f"line {k.start_mark.line + 1}, column {k.start_mark.column + 1}: "
                                                    f"duplicate key '{key}'"))
                out[key] = walk(v, child)
            return out
        if isinstance(n, yaml.SequenceNode):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(n.value)]
        marks.quoted[path] = isinstance(n, yaml.ScalarNode) and n.style in ("'", '"')
        return constructor.construct_object(n, deep=True)

    value = walk(node, "")
    if errors:
        raise ValidationFailed(errors, title="Invalid placement configuration")
    return value, marks


class ConfigChecker(FieldChecker):
    """Validates one document, collecting every error with its field and position."""

    not_a_mapping = "must be a mapping"

    def __init__(self, marks: Marks):
        super().__init__(marks.where)
        self.marks = marks

    def duration(self, value: Any, path: str) -> float | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
        m = _DURATION.match(value) if isinstance(value, str) else None
        if m is None:
            self.fail(path, "must be seconds or a duration such as 30d, 12h, 90m")
            return None
        return float(m.group(1)) * _UNITS[m.group(2)]

    def strings(self, value: Any, path: str) -> frozenset[str]:
        if isinstance(value, str):
            return frozenset([value])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(path, "must be a string or a list of strings")
            return frozenset()
        return frozenset(value)

    def expression(self, value: Any, path: str, kind: str = "condition") -> Expression | None:
        if not isinstance(value, str):
            self.fail(path, "must be an expression (a string)")
            return None
        try:
            return compile_expression(value, kind)
        except ExpressionError as exc:
            self.fail(path, str(exc), offset=exc.position)
            return None

    def time(self, value: Any, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
        try:
            return Schedule.parse(value).start
        except (ValueError, TypeError) as exc:
            self.fail(path, str(exc))
            return None
