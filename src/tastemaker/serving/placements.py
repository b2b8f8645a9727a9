"""Placements: named surfaces, each owning a pipeline configuration.

Built-in placements cover the usual surfaces. A placement YAML file and the admin API
(:mod:`tastemaker.serving.placement_config` validates both) extend or replace them; the
:class:`~tastemaker.serving.placement_registry.PlacementRegistry` holds the table in force.
This module only says what a placement is, so the config parser and the registry both build
on it without importing each other in a circle.

A placement carries, besides its sources: a :class:`~tastemaker.rules.engine.RuleSet`, the
ranker (``blend`` or ``ltr``), a :class:`DiversitySpec`, a :class:`FairnessSpec` and the
names of the knobs a request may override (:func:`apply_overrides`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Mapping

from tastemaker.rules.engine import RuleSet
from tastemaker.rules.filters import PriceRange
from tastemaker.rules.margin import MarginBlend
from tastemaker.schema.errors import FieldError, ValidationFailed


@dataclass(frozen=True)
class SourceSpec:
    """A source's ``weight`` in the blend and ``n``, the candidates it proposes (its quota).

    ``explicit``: the weight was written in a placement document. The train job learns the
    blend of the other sources (:mod:`tastemaker.training.blends`); a written weight is never
    replaced by a learned one."""

    weight: float
    n: int = 200
    explicit: bool = False


@dataclass(frozen=True)
class DiversitySpec:
    """Diversity weight ``lambda_`` (0: relevance order), over ``by`` = categories or
    embeddings, re-ranked by ``method`` (one of :data:`DIVERSITY_METHODS`: ``mmr`` classic
    MMR, ``mmr-sum`` sum-penalty MMR with the picks in relevance order, ``swap`` the
    position-aware local search of ``tastemaker.ranking.diversity.swap``); ``calibration``
    weight of the category-mix calibration (0: off; it takes precedence over ``lambda_``)."""

    lambda_: float = 0.0
    by: str = "categories"
    calibration: float = 0.0
    method: str = "mmr"


DIVERSITY_METHODS = ("mmr", "mmr-sum", "swap")


@dataclass(frozen=True)
class FairnessSpec:
    """``popularity_penalty`` strength (0: off) and minimum exposure shares per group kind:
    ``min_exposure = {"brand": (("Acme", 0.2), ...)}``."""

    popularity_penalty: float = 0.0
    min_exposure: Mapping[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)


OVERRIDABLE = frozenset({"n", "diversity", "calibration", "margin", "popularity_penalty", "price", "disable", "ranker"})


@dataclass(frozen=True)
class Placement:
    name: str
    sources: dict[str, SourceSpec]
    n: int = 10
    seen_penalty: float = 0.5  # multiplier for items the user already interacted with
    include_purchased: bool = False
    exclude_seen: bool = False
    description: str = ""
    rules: RuleSet = field(default_factory=RuleSet)
    ranker: str = "blend"  # "blend" | "ltr"
    diversity: DiversitySpec | None = None
    fairness: FairnessSpec | None = None
    overrides: frozenset[str] = frozenset()
    config: Any = field(default=None, compare=False, repr=False)  # the document it came from
    log_impressions: bool = False  # log what was served, with features (always on for ranker "ltr")
    bandit: Any = field(default=None, compare=False, repr=False)  # experiments.bandit_registry.BanditSpec
    next_best_action: Any = field(default=None, compare=False, repr=False)  # serving.nba_config.NbaSpec

    @cached_property
    def staged(self) -> bool:
        """Whether anything runs after the blend (rules, ranker, diversity, fairness, impression
        log). The recommender skips those stages entirely when not: the built-in placements
        pay one attribute read for them."""
        d, f = self.diversity, self.fairness
        return bool(self.rules) or self.ranker == "ltr" or self.log_impressions \
            or (d is not None and (d.lambda_ > 0 or d.calibration > 0)) \
            or (f is not None and (f.popularity_penalty > 0 or any(f.min_exposure.values())))


_PERSONAL = {
    "covisitation": SourceSpec(1.0),
    "category_affinity": SourceSpec(0.35, 60),
    "user_model": SourceSpec(0.3, 100),
    "trending": SourceSpec(0.15, 100),
    "context_popular": SourceSpec(0.2, 100),
}

DEFAULT_PLACEMENTS: dict[str, Placement] = {
    p.name: p
    for p in [
        Placement("home", dict(_PERSONAL), description="personal picks from recent and long-term behaviour"),
        Placement(
            "product-page",
            {"seed_covisitation": SourceSpec(2.0), **_PERSONAL},
            description="items co-visited with the item on screen (item_id), then personal picks",
        ),
        Placement(
            "cart",
            {"seed_covisitation": SourceSpec(2.0), "session_covisitation": SourceSpec(1.0), "user_model": SourceSpec(0.2)},
            description="complements of the cart and the current session",
        ),
        Placement("email", dict(_PERSONAL), exclude_seen=True, description="fresh items the user has not interacted with"),
    ]
}


def learnable(placement: Placement) -> list[str]:
    """The sources of ``placement`` whose weight the train job may learn (not written in a
    document), when there is a blend to learn at all (two sources or more)."""
    if len(placement.sources) < 2:
        return []
    return [name for name, spec in placement.sources.items() if not spec.explicit]


def with_blend(placement: Placement, weights: Mapping[str, float], quotas: Mapping[str, int] | None = None) -> Placement:
    """``placement`` with the given source weights (and quotas) in place of its own, except
    where a weight was written in a document; a source weighted 0 is dropped (it would add
    nothing to the blend but its cost). Sources not named keep their spec.

    >>> p = with_blend(DEFAULT_PLACEMENTS["cart"], {"user_model": 1.5, "session_covisitation": 0.0})
    >>> {name: spec.weight for name, spec in p.sources.items()}
    {'seed_covisitation': 2.0, 'user_model': 1.5}
    """
    quotas = quotas or {}
    sources: dict[str, SourceSpec] = {}
    for name, spec in placement.sources.items():
        if not spec.explicit and (name in weights or name in quotas):
            spec = replace(spec, weight=float(weights.get(name, spec.weight)), n=int(quotas.get(name, spec.n)))
        if spec.weight > 0 or spec.explicit:
            sources[name] = spec
    return replace(placement, sources=sources)


def _float(value: Any, field_name: str, lo: float, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed([FieldError(field_name, "must be a number")]) from None
    if not lo <= v <= hi:
        raise ValidationFailed([FieldError(field_name, f"must be between {lo:g} and {hi:g}")])
    return v


def apply_overrides(placement: Placement, overrides: Mapping[str, Any]) -> Placement:
    """The placement with per-request ``overrides`` applied; each key must be listed in the
    placement's ``overrides``. Keys: ``n`` (int), ``diversity`` / ``calibration`` /
    ``margin`` / ``popularity_penalty`` (0..1), ``price`` ("MIN..MAX", either side may be
    empty: narrows the list to that range), ``disable`` (comma-separated rule names),
    ``ranker`` (blend | ltr). Errors name the field ``override.KEY``.

    >>> p = replace(DEFAULT_PLACEMENTS["home"], overrides=frozenset({"diversity"}))
    >>> apply_overrides(p, {"diversity": "0.4"}).diversity.lambda_
    0.4
    """
    if not overrides:
        return placement
    errors = [FieldError(f"override.{k}", f"placement '{placement.name}' does not allow overriding '{k}'")
              for k in overrides if k not in placement.overrides]
    if errors:
        raise ValidationFailed(errors)
    out = placement
    diversity = out.diversity or DiversitySpec()
    fairness = out.fairness or FairnessSpec()
    rules = out.rules
    for key, value in overrides.items():
        f = f"override.{key}"
        if key == "n":
            out = replace(out, n=int(_float(value, f, 1, 500)))
        elif key == "diversity":
            diversity = replace(diversity, lambda_=_float(value, f, 0, 1))
        elif key == "calibration":
            diversity = replace(diversity, calibration=_float(value, f, 0, 1))
        elif key == "popularity_penalty":
            fairness = replace(fairness, popularity_penalty=_float(value, f, 0, 1))
        elif key == "margin":
            rules = replace(rules, margin=MarginBlend(_float(value, f, 0, 1)))
        elif key == "price":
            lo, sep, hi = str(value).partition("..")
            if not sep:
                raise ValidationFailed([FieldError(f, "must be MIN..MAX (either side may be empty)")])
            low = _float(lo, f, 0, math.inf) if lo else -math.inf
            high = _float(hi, f, 0, math.inf) if hi else math.inf
            rules = replace(rules, filters=(*rules.filters, PriceRange(min=low, max=high, name="override.price")))
        elif key == "disable":
            names = value if isinstance(value, (list, tuple, set, frozenset)) else str(value).split(",")
            rules = rules.disable({n.strip() for n in names if n.strip()})
        elif key == "ranker":
            if value not in ("blend", "ltr"):
                raise ValidationFailed([FieldError(f, "must be blend or ltr")])
            out = replace(out, ranker=value)
    return replace(out, diversity=diversity if (out.diversity or diversity != DiversitySpec()) else None,
                   fairness=fairness if (out.fairness or fairness != FairnessSpec()) else None, rules=rules)
