"""Placements: named surfaces, each owning a pipeline configuration.

Built-in placements cover the usual surfaces. A placement YAML file and the admin API
(:mod:`tastemaker.serving.placement_config` validates both) extend or replace them; the
:class:`PlacementRegistry` reloads the file when it changes, so edits apply without a
restart, and an invalid file is refused whole (the previous placements keep serving).

A placement carries, besides its sources: a :class:`~tastemaker.rules.engine.RuleSet`, the
ranker (``blend`` or ``ltr``), a :class:`DiversitySpec`, a :class:`FairnessSpec` and the
names of the knobs a request may override (:func:`apply_overrides`).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

from tastemaker.rules.engine import RuleSet
from tastemaker.rules.filters import PriceRange
from tastemaker.rules.margin import MarginBlend
from tastemaker.schema.errors import FieldError, ValidationFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSpec:
    weight: float
    n: int = 200


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


@dataclass
class PlacementRegistry:
    """The placements in force: the built-ins, overlaid by a YAML file when ``path`` is set.

    ``reload_if_changed()`` is cheap (a ``stat`` at most every ``check_every_s``) and is
    meant to run before each request; an invalid file is logged and ignored, the previous
    table keeps serving (``last_error`` holds the refusal). ``put``/``delete`` change one
    placement and, with a file, write the whole file atomically, so other workers pick the
    change up by their own reload.
    """

    placements: dict[str, Placement] = field(default_factory=lambda: dict(DEFAULT_PLACEMENTS))
    path: Path | None = None
    check_every_s: float = 1.0
    last_error: ValidationFailed | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._documents: dict[str, Any] = {}
        if self.path is not None:
            self.path = Path(self.path)
            self.reload(strict=True)

    def get(self, name: str) -> Placement | None:
        return self.placements.get(name)

    def names(self) -> list[str]:
        return sorted(self.placements)

    # -- the file -------------------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()  # type: ignore[union-attr]
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self, strict: bool = False) -> bool:
        """Read the file now; True when the table changed. ``strict`` raises on a bad file."""
        from tastemaker.serving.placement_config import load_placements

        if self.path is None:
            return False
        with self._lock:
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            try:
                loaded = {} if stamp is None else load_placements(self.path.read_text(), str(self.path))
            except ValidationFailed as exc:
                self.last_error = exc
                log.error("placement file %s refused, keeping the previous placements: %s", self.path, exc)
                if strict:
                    raise
                return False
            self.last_error = None
            self._documents = {name: p.config for name, p in loaded.items()}
            self.placements = {**DEFAULT_PLACEMENTS, **loaded}
            return True

    def reload_if_changed(self) -> bool:
        if self.path is None:
            return False
        now = time.monotonic()
        if now - self._checked < self.check_every_s:
            return False
        self._checked = now
        return self.reload()

    # -- admin ----------------------------------------------------------------------------
    def config(self, name: str) -> Any:
        """The configuration document of a placement (None for a built-in one)."""
        p = self.placements.get(name)
        return None if p is None else p.config

    def put(self, name: str, body: Any) -> Placement:
        """Validate and install one placement (raises ``ValidationFailed``); persisted to
        the file when there is one."""
        from tastemaker.serving.placement_config import placement_from_json

        placement = placement_from_json(name, body)
        with self._lock:
            self.placements = {**self.placements, name: placement}
            self._documents = {**self._documents, name: body}
            self._write()
        return placement

    def delete(self, name: str) -> bool:
        """Remove a configured placement (a built-in one comes back to its default)."""
        with self._lock:
            if name not in self._documents:
                return False
            docs = {k: v for k, v in self._documents.items() if k != name}
            self._documents = docs
            table = dict(self.placements)
            table.pop(name, None)
            if name in DEFAULT_PLACEMENTS:
                table[name] = DEFAULT_PLACEMENTS[name]
            self.placements = table
            self._write()
            return True

    def _write(self) -> None:
        if self.path is None:
            return
        import yaml

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".placements-")
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump({"placements": self._documents}, fh, sort_keys=False, allow_unicode=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self._stamp = self._file_stamp()
