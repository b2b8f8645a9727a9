"""Placement configuration: YAML (or JSON from the admin API) → validated :class:`Placement`.

Every error names the field as a JSON pointer (``/placements/home/rules/2/factor``) and,
for YAML, the line and column (``line 14, column 17: must be a number``); an expression
error points at the column of the offending token inside the file. All errors of a
document are collected and raised together as one
:class:`~tastemaker.schema.errors.ValidationFailed` (HTTP 422 from the admin API), and
nothing of an invalid document is applied.

Format (every key but ``sources`` optional)::

    placements:
      home:
        description: personal picks
        n: 10
        sources:                       # name: weight, or name: {weight, n}
          covisitation: 1.0
          trending: {weight: 0.15, n: 100}
        ranker: blend                  # blend | ltr (the learned ranker once trained)
        diversity: {lambda: 0.3, by: categories, calibration: 0.2}
        fairness:
          popularity_penalty: 0.2
          min_exposure: {brand: {Acme: 0.2}}
        rules:
          - filter: in_stock           # in_stock (min_stock), category / brand (include, exclude),
          - filter: price              # price (min, max), age (min, max: seconds or 30d/12h),
            max: 100                   # not_purchased, expression (when)
          - where: "margin > 0.1"      # an expression filter
          - boost: 'brand == "Acme"'   # boost/bury: a condition, factor: a number or expression
            factor: 1.5
          - bury: "age > 90d"
            factor: 0.5
          - pin: sku-1                 # an item id at a 1-based position
            position: 1
          - cap: brand                 # at most max per brand/category in the list
            max: 2
          - margin: 0.3                # relevance/margin trade-off
        promotions:                    # rules in force between start and end only
          - name: xmas
            start: 2024-12-01T00:00:00Z
            end: 2024-12-27T00:00:00Z
            rules: [{boost: '"xmas" in tags', factor: 2}]
        overrides: [diversity, margin, n, disable, price]   # what a request may change
        log_impressions: true          # log served lists with their features (implied by ltr)

>>> p = load_placements("placements:\\n  home:\\n    sources: {trending: 1}\\n    rules: [{margin: 0.2}]\\n")
>>> p["home"].rules.margin.weight, p["home"].sources["trending"].weight
(0.2, 1.0)
>>> try:
...     load_placements("placements:\\n  home:\\n    sources: {trending: 1}\\n    rules:\\n      - boost: 'price >> 2'\\n")
... except ValidationFailed as e:
...     print(e)
/placements/home/rules/0/boost: line 5, column 24: unexpected '>' at position 7
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import yaml

from tastemaker.rules.boosts import Boost
from tastemaker.rules.caps import Cap
from tastemaker.rules.engine import RuleSet
from tastemaker.rules.expressions import Expression, ExpressionError, compile_expression
from tastemaker.rules.filters import (
    AgeRange,
    BrandFilter,
    CategoryFilter,
    ExpressionFilter,
    Filter,
    InStock,
    NotPurchased,
    PriceRange,
)
from tastemaker.rules.margin import MarginBlend
from tastemaker.rules.pins import Pin
from tastemaker.rules.schedule import ALWAYS, Schedule
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.placements import (
    OVERRIDABLE,
    DiversitySpec,
    FairnessSpec,
    Placement,
    SourceSpec,
)

RANKERS = ("blend", "ltr")
RULE_KINDS = ("filter", "where", "boost", "bury", "pin", "cap", "margin")
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


class _Checker:
    """Validates one document, collecting every error with its field and position."""

    def __init__(self, marks: Marks):
        self.marks = marks
        self.errors: list[FieldError] = []

    def fail(self, path: str, reason: str, offset: int = 0) -> None:
        self.errors.append(FieldError(path, self.marks.where(path, offset) + reason))

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.fail(f"{path}/{key}", f"unknown field '{key}' (allowed: {', '.join(allowed)})")
        return value

    def number(self, value: Any, path: str, lo: float = -math.inf, hi: float = math.inf, default: float | None = None,
               integer: bool = False) -> float | None:
        if value is None and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            self.fail(path, "must be an integer" if integer else "must be a number")
            return None
        if not lo <= value <= hi:
            self.fail(path, f"must be between {lo:g} and {hi:g}")
            return None
        return value

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


def _rule(c: _Checker, doc: Any, path: str, schedule: Schedule, out: dict[str, list]) -> None:
    if not isinstance(doc, dict):
        c.fail(path, f"a rule is a mapping with one of: {', '.join(RULE_KINDS)}")
        return
    kinds = [k for k in RULE_KINDS if k in doc]
    if len(kinds) != 1:
        c.fail(path, f"a rule has exactly one of: {', '.join(RULE_KINDS)}" + (f" (found {', '.join(kinds)})" if kinds else ""))
        return
    kind = kinds[0]
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        c.fail(f"{path}/name", "must be a string")
        name = None
    common = ("name",)
    at = f"{path}/{kind}"
    value = doc[kind]
    if kind in ("filter", "where"):
        f = _filter(c, doc, path, kind, value, schedule)
        if f is not None:
            out["filters"].append(f)
        return
    if kind in ("boost", "bury"):
        c.mapping(doc, path, (kind, "factor", *common))
        when = c.expression(value, at)
        raw = doc.get("factor", 1.5 if kind == "boost" else 0.5)
        factor: float | Expression | None
        if isinstance(raw, str):
            factor = c.expression(raw, f"{path}/factor", kind="number")
        else:
            factor = c.number(raw, f"{path}/factor", 0.0, 1e6)
            if factor is not None and kind == "bury" and factor >= 1:
                c.fail(f"{path}/factor", "a bury factor is below 1")
            if factor is not None and kind == "boost" and factor < 1:
                c.fail(f"{path}/factor", "a boost factor is at least 1 (use bury to lower scores)")
        if when is not None and factor is not None:
            out["boosts"].append(Boost(name or f"{kind}:{value}", when, factor, schedule=schedule))
        return
    if kind == "pin":
        c.mapping(doc, path, ("pin", "position", *common))
        position = c.number(doc.get("position"), f"{path}/position", 1, 500, integer=True)
        if not isinstance(value, str) or not value:
            c.fail(at, "must be an item id")
        elif position is not None:
            out["pins"].append(Pin(value, int(position), name or "", schedule=schedule))
        return
    if kind == "cap":
        c.mapping(doc, path, ("cap", "max", "strict", *common))
        if value not in ("brand", "category"):
            c.fail(at, "must be 'brand' or 'category'")
        most = c.number(doc.get("max"), f"{path}/max", 1, 500, integer=True)
        strict = doc.get("strict", False)
        if not isinstance(strict, bool):
            c.fail(f"{path}/strict", "must be true or false")
        elif value in ("brand", "category") and most is not None:
            out["caps"].append(Cap(value, int(most), name or "", strict, schedule=schedule))
        return
    c.mapping(doc, path, ("margin", *common))
    weight = c.number(value, at, 0.0, 1.0)
    if weight is not None:
        if not schedule.always:
            c.fail(at, "the margin trade-off cannot be scheduled; set it on the placement")
        elif out["margin"]:
            c.fail(at, "the margin trade-off is set twice")
        else:
            out["margin"].append(MarginBlend(weight, name or "margin"))


_FILTER_FIELDS: dict[str, tuple[str, ...]] = {
    "in_stock": ("min_stock",), "category": ("include", "exclude"), "brand": ("include", "exclude"),
    "price": ("min", "max"), "age": ("min", "max"), "not_purchased": (), "expression": ("when",),
}


def _filter(c: _Checker, doc: dict, path: str, kind: str, value: Any, schedule: Schedule) -> Filter | None:
    name_kw = {"name": doc["name"]} if isinstance(doc.get("name"), str) else {}
    if kind == "where":
        c.mapping(doc, path, ("where", "name"))
        expr = c.expression(value, f"{path}/where")
        return None if expr is None else ExpressionFilter(expr=expr, schedule=schedule, **{"name": "where", **name_kw})
    if value not in _FILTER_FIELDS:
        c.fail(f"{path}/filter", f"unknown filter '{value}' (known: {', '.join(_FILTER_FIELDS)})")
        return None
    fields = _FILTER_FIELDS[value]
    c.mapping(doc, path, ("filter", "name", *fields))
    n_errors = len(c.errors)
    kw: dict[str, Any] = {"schedule": schedule, **name_kw}
    if value == "in_stock":
        f: Filter = InStock(min_stock=c.number(doc.get("min_stock"), f"{path}/min_stock", 0, default=0.0) or 0.0, **kw)
    elif value in ("category", "brand"):
        include = c.strings(doc.get("include", []), f"{path}/include")
        exclude = c.strings(doc.get("exclude", []), f"{path}/exclude")
        cls = CategoryFilter if value == "category" else BrandFilter
        f = cls(include=include, exclude=exclude, **kw)
    elif value == "price":
        lo = c.number(doc.get("min"), f"{path}/min", 0, default=-math.inf)
        hi = c.number(doc.get("max"), f"{path}/max", 0, default=math.inf)
        if lo is not None and hi is not None and lo > hi:
            c.fail(f"{path}/max", "must be at least min")
        f = PriceRange(min=lo if lo is not None else 0.0, max=hi if hi is not None else math.inf, **kw)
    elif value == "age":
        lo = c.duration(doc["min"], f"{path}/min") if "min" in doc else 0.0
        hi = c.duration(doc["max"], f"{path}/max") if "max" in doc else math.inf
        f = AgeRange(min_age=lo or 0.0, max_age=math.inf if hi is None else hi, **kw)
    elif value == "not_purchased":
        f = NotPurchased(**kw)
    else:
        expr = c.expression(doc.get("when"), f"{path}/when")
        f = ExpressionFilter(expr=expr, **kw)
    return f if len(c.errors) == n_errors else None


def _rules(c: _Checker, value: Any, path: str, schedule: Schedule, out: dict[str, list]) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        c.fail(path, "must be a list of rules")
        return
    for i, doc in enumerate(value):
        _rule(c, doc, f"{path}/{i}", schedule, out)


def _promotions(c: _Checker, value: Any, path: str, out: dict[str, list]) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        c.fail(path, "must be a list of promotions")
        return
    for i, doc in enumerate(value):
        at = f"{path}/{i}"
        if c.mapping(doc, at, ("name", "start", "end", "rules")) is None:
            continue
        start, end = c.time(doc.get("start"), f"{at}/start"), c.time(doc.get("end"), f"{at}/end")
        try:
            schedule = Schedule(-math.inf if start is None else start, math.inf if end is None else end)
        except ValueError as exc:
            c.fail(f"{at}/end", str(exc))
            continue
        before = {k: len(v) for k, v in out.items()}
        _rules(c, doc.get("rules"), f"{at}/rules", schedule, out)
        prefix = doc.get("name")
        if isinstance(prefix, str):  # name the rules after their campaign in explanations
            for key in ("filters", "boosts", "pins", "caps"):
                for j in range(before[key], len(out[key])):
                    r = out[key][j]
                    out[key][j] = _renamed(r, f"{prefix}/{r.name}")


def _renamed(rule: Any, name: str) -> Any:
    from dataclasses import replace
    return replace(rule, name=name)


PLACEMENT_FIELDS = ("description", "n", "sources", "ranker", "diversity", "fairness", "rules", "promotions",
                    "overrides", "seen_penalty", "include_purchased", "exclude_seen", "log_impressions")


def _placement(c: _Checker, name: str, doc: Any, path: str, known_sources: frozenset[str] | None) -> Placement | None:
    n_errors = len(c.errors)
    if c.mapping(doc, path, PLACEMENT_FIELDS) is None:
        return None
    sources: dict[str, SourceSpec] = {}
    raw = doc.get("sources")
    if not isinstance(raw, dict) or not raw:
        c.fail(f"{path}/sources", "must be a non-empty mapping of source name to weight or {weight, n}")
    else:
        for src, spec in raw.items():
            at = f"{path}/sources/{src}"
            if known_sources is not None and src not in known_sources:
                c.fail(at, f"unknown source '{src}' (known: {', '.join(sorted(known_sources))})")
                continue
            if isinstance(spec, dict):
                c.mapping(spec, at, ("weight", "n"))
                w = c.number(spec.get("weight"), f"{at}/weight", 0.0, 1e6)
                k = c.number(spec.get("n", 200), f"{at}/n", 1, 10_000, integer=True)
            else:
                w, k = c.number(spec, at, 0.0, 1e6), 200
            if w is not None and k is not None:
                sources[src] = SourceSpec(float(w), int(k))
    n = c.number(doc.get("n", 10), f"{path}/n", 1, 500, integer=True)
    ranker = doc.get("ranker", "blend")
    if ranker not in RANKERS:
        c.fail(f"{path}/ranker", f"must be one of: {', '.join(RANKERS)}")
    diversity = None
    if doc.get("diversity") is not None:
        d = c.mapping(doc["diversity"], f"{path}/diversity", ("lambda", "by", "calibration"))
        if d is not None:
            lam = c.number(d.get("lambda", 0.0), f"{path}/diversity/lambda", 0.0, 1.0)
            cal = c.number(d.get("calibration", 0.0), f"{path}/diversity/calibration", 0.0, 1.0)
            by = d.get("by", "categories")
            if by not in ("categories", "embeddings"):
                c.fail(f"{path}/diversity/by", "must be 'categories' or 'embeddings'")
            elif lam is not None and cal is not None:
                diversity = DiversitySpec(lam, by, cal)
    fairness = None
    if doc.get("fairness") is not None:
        f = c.mapping(doc["fairness"], f"{path}/fairness", ("popularity_penalty", "min_exposure"))
        if f is not None:
            pen = c.number(f.get("popularity_penalty", 0.0), f"{path}/fairness/popularity_penalty", 0.0, 1.0)
            shares: dict[str, dict[str, float]] = {}
            me = f.get("min_exposure") or {}
            if c.mapping(me, f"{path}/fairness/min_exposure", ("brand",)) is not None:
                for kind, groups in me.items():
                    at = f"{path}/fairness/min_exposure/{kind}"
                    if c.mapping(groups, at, tuple(groups) if isinstance(groups, dict) else ()) is None:
                        continue
                    shares[kind] = {}
                    for g, s in groups.items():
                        v = c.number(s, f"{at}/{g}", 0.0, 1.0)
                        if v is not None:
                            shares[kind][str(g)] = v
                    if sum(shares[kind].values()) > 1.0:
                        c.fail(at, "minimum shares add up to more than 1")
            if pen is not None:
                fairness = FairnessSpec(pen, {k: tuple(v.items()) for k, v in shares.items()})
    out: dict[str, list] = {"filters": [], "boosts": [], "pins": [], "caps": [], "margin": []}
    _rules(c, doc.get("rules"), f"{path}/rules", ALWAYS, out)
    _promotions(c, doc.get("promotions"), f"{path}/promotions", out)
    overrides = c.strings(doc.get("overrides", []), f"{path}/overrides")
    for o in sorted(overrides - OVERRIDABLE):
        c.fail(f"{path}/overrides", f"'{o}' cannot be overridden (allowed: {', '.join(sorted(OVERRIDABLE))})")
    flags = {}
    for flag in ("include_purchased", "exclude_seen", "log_impressions"):
        v = doc.get(flag, False)
        if not isinstance(v, bool):
            c.fail(f"{path}/{flag}", "must be true or false")
        flags[flag] = bool(v)
    seen_penalty = c.number(doc.get("seen_penalty", 0.5), f"{path}/seen_penalty", 0.0, 1.0)
    description = doc.get("description", "")
    if not isinstance(description, str):
        c.fail(f"{path}/description", "must be a string")
    if len(c.errors) > n_errors:
        return None
    rules = RuleSet(tuple(out["filters"]), tuple(out["boosts"]), tuple(out["pins"]), tuple(out["caps"]),
                    out["margin"][0] if out["margin"] else None)
    return Placement(name, sources, n=int(n), seen_penalty=float(seen_penalty), description=description,  # type: ignore[arg-type]
                     rules=rules, ranker=ranker, diversity=diversity, fairness=fairness,
                     overrides=frozenset(overrides), config=doc, **flags)


def default_known_sources() -> frozenset[str]:
    from tastemaker.serving.sources import SOURCES
    return frozenset(SOURCES)


def validate_placements(doc: Any, marks: Marks | None = None, prefix: str = "",
                        known_sources: frozenset[str] | None = None) -> dict[str, Placement]:
    """Placements from a parsed document ``{"placements": {name: {...}}}``."""
    c = _Checker(marks or Marks())
    known = default_known_sources() if known_sources is None else known_sources
    top = c.mapping(doc, prefix or "", ("placements",))
    out: dict[str, Placement] = {}
    if top is not None:
        placements = top.get("placements", {})
        if not isinstance(placements, dict):
            c.fail(f"{prefix}/placements", "must be a mapping of placement name to its pipeline")
        else:
            for name, body in placements.items():
                if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", str(name)):
                    c.fail(f"{prefix}/placements/{name}", "a placement name is 1-64 of a-z, 0-9, '-', '_'")
                    continue
                p = _placement(c, str(name), body, f"{prefix}/placements/{name}", known)
                if p is not None:
                    out[str(name)] = p
    if c.errors:
        raise ValidationFailed(c.errors, title="Invalid placement configuration")
    return out


def load_placements(text: str, source: str = "placements.yaml",
                    known_sources: frozenset[str] | None = None) -> dict[str, Placement]:
    """Placements from YAML text; raises ``ValidationFailed`` naming fields and lines."""
    doc, marks = parse_yaml(text, source)
    return validate_placements(doc, marks, known_sources=known_sources)


def placement_from_json(name: str, body: Any, known_sources: frozenset[str] | None = None) -> Placement:
    """One placement from an admin API body (fields are JSON pointers into the body)."""
    c = _Checker(Marks())
    known = default_known_sources() if known_sources is None else known_sources
    p = _placement(c, name, body, "", known)
    if c.errors or p is None:
        raise ValidationFailed(c.errors, title="Invalid placement configuration")
    return p
