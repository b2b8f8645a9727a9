"""Business rules and promotions from a placement document (see :mod:`placement_config`).

Each rule becomes a filter, boost, pin, cap or margin blend of :mod:`tastemaker.rules`;
promotions are rules in force between a start and an end, named after their campaign.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from tastemaker.rules.boosts import Boost
from tastemaker.rules.caps import Cap
from tastemaker.rules.expressions import Expression
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
from tastemaker.rules.schedule import Schedule
from tastemaker.serving.config_document import ConfigChecker

RULE_KINDS = ("filter", "where", "boost", "bury", "pin", "cap", "margin")


def _rule(c: ConfigChecker, doc: Any, path: str, schedule: Schedule, out: dict[str, list]) -> None:
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


def _filter(c: ConfigChecker, doc: dict, path: str, kind: str, value: Any, schedule: Schedule) -> Filter | None:
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


def _listed(c: ConfigChecker, value: Any, path: str, what: str) -> list:
    """``value`` when it is a list; nothing (and an error unless absent) otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        c.fail(path, f"must be a list of {what}")
        return []
    return value


def rules_from_config(c: ConfigChecker, value: Any, path: str, schedule: Schedule, out: dict[str, list]) -> None:
    for i, doc in enumerate(_listed(c, value, path, "rules")):
        _rule(c, doc, f"{path}/{i}", schedule, out)


def promotions_from_config(c: ConfigChecker, value: Any, path: str, out: dict[str, list]) -> None:
    for i, doc in enumerate(_listed(c, value, path, "promotions")):
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
        rules_from_config(c, doc.get("rules"), f"{at}/rules", schedule, out)
        prefix = doc.get("name")
        if isinstance(prefix, str):  # name the rules after their campaign in explanations
            for key in ("filters", "boosts", "pins", "caps"):
                for j in range(before[key], len(out[key])):
                    r = out[key][j]
                    out[key][j] = _renamed(r, f"{prefix}/{r.name}")


def _renamed(rule: Any, name: str) -> Any:
    return replace(rule, name=name)
