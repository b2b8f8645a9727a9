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
          covisitation: 1.0            # a written weight is kept as written
          trending: {weight: 0.15, n: 100}
          user_model: {n: 100}         # no weight: the train job learns it
        ranker: blend                  # blend | ltr (the learned ranker once trained)
        diversity: {lambda: 0.3, by: categories, calibration: 0.2}   # method: mmr | mmr-sum | swap
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
        bandit: {policy: thompson, arms: {a: {}, b: {ranker: ltr}}}   # serving/bandit_config.py

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

import re
from dataclasses import replace
from typing import Any

from tastemaker.rules.engine import RuleSet
from tastemaker.rules.schedule import ALWAYS
from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.bandit_config import bandit_from_config
from tastemaker.serving.nba_config import nba_from_config
from tastemaker.serving.config_document import ConfigChecker, Marks, parse_yaml  # noqa: F401 (parse_yaml: API)
from tastemaker.serving.rule_config import promotions_from_config, rules_from_config
from tastemaker.serving.placements import (
    DIVERSITY_METHODS,
    OVERRIDABLE,
    DiversitySpec,
    FairnessSpec,
    Placement,
    SourceSpec,
)

MAX_RULES = 100  # rules and promotions in one placement (each runs on every request of it)
RANKERS = ("blend", "ltr")
PLACEMENT_FIELDS = ("description", "n", "sources", "ranker", "diversity", "fairness", "rules", "promotions",
                    "overrides", "seen_penalty", "include_purchased", "exclude_seen", "log_impressions", "bandit",
                    "next_best_action")


def _placement(c: ConfigChecker, name: str, doc: Any, path: str, known_sources: frozenset[str] | None) -> Placement | None:
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
                # no weight written: the train job learns it (1 until then)
                explicit = spec.get("weight") is not None
                w = c.number(spec["weight"], f"{at}/weight", 0.0, 1e6) if explicit else 1.0
                k = c.number(spec.get("n", 200), f"{at}/n", 1, 10_000, integer=True)
            else:
                w, k, explicit = c.number(spec, at, 0.0, 1e6), 200, True
            if w is not None and k is not None:
                sources[src] = SourceSpec(float(w), int(k), explicit)
    n = c.number(doc.get("n", 10), f"{path}/n", 1, 500, integer=True)
    ranker = doc.get("ranker", "blend")
    if ranker not in RANKERS:
        c.fail(f"{path}/ranker", f"must be one of: {', '.join(RANKERS)}")
    diversity = None
    if doc.get("diversity") is not None:
        d = c.mapping(doc["diversity"], f"{path}/diversity", ("lambda", "by", "calibration", "method"))
        if d is not None:
            lam = c.number(d.get("lambda", 0.0), f"{path}/diversity/lambda", 0.0, 1.0)
            cal = c.number(d.get("calibration", 0.0), f"{path}/diversity/calibration", 0.0, 1.0)
            by = d.get("by", "categories")
            method = d.get("method", "mmr")
            if method not in DIVERSITY_METHODS:
                c.fail(f"{path}/diversity/method", f"must be one of: {', '.join(DIVERSITY_METHODS)}")
            elif by not in ("categories", "embeddings"):
                c.fail(f"{path}/diversity/by", "must be 'categories' or 'embeddings'")
            elif lam is not None and cal is not None:
                diversity = DiversitySpec(lam, by, cal, method)
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
    rules_from_config(c, doc.get("rules"), f"{path}/rules", ALWAYS, out)
    promotions_from_config(c, doc.get("promotions"), f"{path}/promotions", out)
    if sum(map(len, out.values())) > MAX_RULES:  # every rule runs on every request of the placement
        c.fail(f"{path}/rules", f"at most {MAX_RULES} rules and promotions per placement, got {sum(map(len, out.values()))}")
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
    placement = Placement(name, sources, n=int(n), seen_penalty=float(seen_penalty), description=description,  # type: ignore[arg-type]
                          rules=rules, ranker=ranker, diversity=diversity, fairness=fairness,
                          overrides=frozenset(overrides), config=doc, **flags)
    if doc.get("next_best_action") is not None:  # the placement chooses an action: serving/nba_config.py
        spec = nba_from_config(c, doc["next_best_action"], f"{path}/next_best_action")
        if spec is None:
            return None
        placement = replace(placement, next_best_action=spec)
    if doc.get("bandit") is not None:  # the placement (or a slot) as a bandit: serving/bandit_config.py
        bandit = bandit_from_config(c, doc["bandit"], f"{path}/bandit", placement)
        return None if bandit is None else replace(placement, bandit=bandit)
    return placement


def default_known_sources() -> frozenset[str]:
    from tastemaker.serving.sources import SOURCES
    return frozenset(SOURCES)


def validate_placements(doc: Any, marks: Marks | None = None, prefix: str = "",
                        known_sources: frozenset[str] | None = None) -> dict[str, Placement]:
    """Placements from a parsed document ``{"placements": {name: {...}}}``."""
    c = ConfigChecker(marks or Marks())
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
    c = ConfigChecker(Marks())
    known = default_known_sources() if known_sources is None else known_sources
    p = _placement(c, name, body, "", known)
    if c.errors or p is None:
        raise ValidationFailed(c.errors, title="Invalid placement configuration")
    return p
