"""The types of an experiment's design (what :mod:`tastemaker.experiments.spec` validates a
document into): constants, :class:`Override`, :class:`Variant`, :class:`Metric`,
:class:`Population`, :class:`Experiment`. Import them from ``spec``, which re-exports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

BUCKETS = 10_000  # the bucket space of one salt: shares are multiples of 1/BUCKETS
STATUSES = ("draft", "running", "stopped")
# status -> statuses it may move to (a stopped experiment stays stopped: its data is final)
TRANSITIONS = {"draft": ("running", "stopped"), "running": ("stopped",), "stopped": ()}
KINDS = ("ab", "canary")
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ALL_PLACEMENTS = "*"  # targets every placement (model canaries)
RANKERS = ("blend", "ltr")
DIVERSITY_METHODS = ("mmr", "mmr-sum", "swap")  # as serving.placements.DIVERSITY_METHODS
DIRECTIONS = ("increase", "decrease")  # the direction that is good for the metric
# measured in process per variant; their guardrail threshold is an absolute budget
IN_PROCESS_METRICS = ("error_rate", "latency_p99_ms")
FIELDS = ("id", "name", "description", "kind", "placements", "variants", "layer", "exclusion_group", "offset",
          "population", "primary_metric", "guardrails", "alpha", "start", "stop", "status", "salt", "status_reason",
          "design", "started_at", "stopped_at")
OVERRIDE_FIELDS = ("model_version", "blend", "ranker", "rules", "diversity")


@dataclass(frozen=True)
class Override:
    """A variant's changes to the placement pipeline (None / empty: the placement's own).

    ``blend``: source -> ``{"weight"?, "n"?}``; ``rules``: rule documents in the placement
    format, replacing the placement's rules; ``diversity``: ``{"lambda", "by", "calibration",
    "method"}`` replacing the placement's."""

    model_version: int | None = None
    blend: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    ranker: str | None = None
    rules: tuple[Any, ...] | None = None
    diversity: Mapping[str, Any] | None = None

    def __bool__(self) -> bool:
        return bool(self.model_version is not None or self.blend or self.ranker or self.rules is not None or self.diversity)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.model_version is not None:
            out["model_version"] = self.model_version
        if self.blend:
            out["blend"] = {k: dict(v) for k, v in self.blend.items()}
        if self.ranker is not None:
            out["ranker"] = self.ranker
        if self.rules is not None:
            out["rules"] = list(self.rules)
        if self.diversity is not None:
            out["diversity"] = dict(self.diversity)
        return out


@dataclass(frozen=True)
class Variant:
    name: str
    share: float
    override: Override = field(default_factory=Override)

    @property
    def buckets(self) -> int:
        return int(round(self.share * BUCKETS))

    @property
    def propensity(self) -> float:
        """The probability the design gives this variant (its buckets / BUCKETS)."""
        return self.buckets / BUCKETS


@dataclass(frozen=True)
class Metric:
    """A metric, the direction that is good for it, and for a guardrail the tolerated change
    the bad way: relative to control (0.02: 2% worse), or an absolute budget for the
    :data:`IN_PROCESS_METRICS` (``error_rate`` 0.01, ``latency_p99_ms`` 50)."""

    metric: str
    direction: str = "increase"
    threshold: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric, "direction": self.direction}
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out


@dataclass(frozen=True)
class Population:
    """Who may enter: users in any of ``segments`` (built-in: the lifecycle stages new, active,
    reactivated, at_risk, churned, then engaged, buyer, cart_abandoner, at_risk_predicted; or
    any rule segment of ``/v1/segments``, serving.segments) and requests whose context matches
    every key of ``context`` (one of its values). Empty: everyone. Membership is evaluated per
    request, so a user enters with the event that puts them in the segment."""

    segments: frozenset[str] = frozenset()
    context: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.segments or self.context)

    def matches(self, context: Mapping[str, Any], segments: Callable[[], list[str]]) -> bool:
        for key, allowed in self.context.items():
            if context.get(key) not in allowed:
                return False
        return not self.segments or not self.segments.isdisjoint(segments())

    def to_json(self) -> dict[str, Any]:
        return {"segments": sorted(self.segments), "context": {k: sorted(v) for k, v in self.context.items()}}


@dataclass(frozen=True)
class Experiment:
    id: str
    placements: tuple[str, ...]
    variants: tuple[Variant, ...]
    name: str = ""
    description: str = ""
    kind: str = "ab"
    layer: str = "default"
    exclusion_group: str | None = None
    offset: int = 0  # first bucket of the group's space this experiment takes (exclusion groups)
    population: Population = field(default_factory=Population)
    primary_metric: Metric = field(default_factory=lambda: Metric("ctr"))
    guardrails: tuple[Metric, ...] = ()
    alpha: float = 0.05
    start: float | None = None
    stop: float | None = None
    status: str = "draft"
    salt: str = ""
    status_reason: str | None = None
    # for the sample size at creation: the primary metric's ``baseline`` rate, the relative
    # lift to detect (``mde``) and the ``power`` wanted (None: no sample size is computed)
    design: Mapping[str, float] | None = None
    # when the status really moved to running / stopped (recorded by the server, epoch seconds);
    # ``start`` / ``stop`` are the schedule, these are what happened
    started_at: float | None = None
    stopped_at: float | None = None

    def window(self, now: float) -> tuple[float | None, float]:
        """The period the experiment served in, as of ``now``: from the later of its recorded
        start and its scheduled ``start`` (None: neither known) to the earliest of its recorded
        stop, its scheduled ``stop`` and ``now``.

        >>> Experiment("x", ("home",), (), start=100.0, started_at=150.0, stopped_at=300.0).window(500.0)
        (150.0, 300.0)
        """
        starts = [t for t in (self.start, self.started_at) if t is not None]
        ends = [t for t in (self.stop, self.stopped_at) if t is not None]
        return (max(starts) if starts else None), min([now, *ends])

    @property
    def bucket_salt(self) -> str:
        """The salt of the bucket space: the exclusion group's (shared) or the experiment's own."""
        return f"{self.layer}/group:{self.exclusion_group}" if self.exclusion_group else self.salt

    @property
    def buckets(self) -> int:
        return sum(v.buckets for v in self.variants)

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def active(self, now: float) -> bool:
        return self.status == "running" and (self.start is None or self.start <= now) and (self.stop is None or now < self.stop)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description, "kind": self.kind,
                "placements": list(self.placements),
                "variants": [{"name": v.name, "share": v.share, "override": v.override.to_json()} for v in self.variants],
                "layer": self.layer, "exclusion_group": self.exclusion_group, "offset": self.offset,
                "population": self.population.to_json(), "primary_metric": self.primary_metric.to_json(),
                "guardrails": [g.to_json() for g in self.guardrails], "alpha": self.alpha, "start": self.start,
                "stop": self.stop, "status": self.status, "salt": self.salt, "status_reason": self.status_reason,
                "design": dict(self.design) if self.design is not None else None,
                "started_at": self.started_at, "stopped_at": self.stopped_at}
