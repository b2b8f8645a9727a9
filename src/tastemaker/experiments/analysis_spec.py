"""What to analyse: control, metrics with their good direction, guardrails, alpha, shares.

An :class:`AnalysisSpec` is plain data. It comes from an experiment's configuration
(:meth:`AnalysisSpec.from_experiment`, duck-typed on ``variants``/``primary_metric``/
``guardrails``/``alpha`` so it follows experiments.spec) or from a dict
(:meth:`AnalysisSpec.from_dict`, the same keys as the dataclass fields).

Metric kinds: ``proportion`` (per-user 0/1 values: converted, clicked at least once; tested
with the two-proportion z-test) or ``mean`` (any per-user value: revenue, per-user CTR, items
per session; Welch's t-test). ``None`` infers ``proportion`` when every value is 0 or 1.

Guardrail thresholds are the tolerated relative change the bad way (0.02: 2% worse than
control); see :mod:`tastemaker.experiments.analysis` for how a guardrail passes or fails.

Example:
    >>> s = AnalysisSpec.from_dict({"control": "a", "primary": {"name": "conversion"},
    ...                             "guardrails": [{"name": "revenue", "threshold": 0.02}]})
    >>> s.primary.kind, s.guardrails[0].direction, s.correction
    (None, 'increase', 'holm')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

KINDS = ("proportion", "mean")
DIRECTIONS = ("increase", "decrease")  # the direction that is good for the metric
CORRECTIONS = ("holm", "bonferroni", "bh", "none")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    direction: str = "increase"
    threshold: float | None = None  # guardrails: tolerated relative change the bad way
    kind: str | None = None  # proportion | mean | None (inferred from the values)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a metric needs a name")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"metric {self.name}: direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"metric {self.name}: kind must be one of {KINDS} or null, got {self.kind!r}")
        if self.threshold is not None and not self.threshold >= 0:
            raise ValueError(f"metric {self.name}: threshold must be >= 0, got {self.threshold}")

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better."""
        return 1 if self.direction == "increase" else -1


@dataclass(frozen=True)
class AnalysisSpec:
    control: str
    primary: MetricSpec
    guardrails: tuple[MetricSpec, ...] = ()
    secondary: tuple[MetricSpec, ...] = ()  # reported, not decided on
    alpha: float = 0.05
    shares: Mapping[str, float] | None = None  # configured traffic; None: equal shares
    sequential: bool = True  # decide on the always-valid mSPRT (peeking is safe)
    planned_users: int | None = None  # per variant, from the power calculation
    correction: str = "holm"
    cuped: bool = True  # use covariates['pre_<metric>'] when the table has them
    srm_threshold: float = 0.001
    looks: int = 20  # cumulative looks (by exposure time) for the sequential test and curve
    segments: tuple[str, ...] = field(default_factory=tuple)  # segment columns to break down by

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {CORRECTIONS}, got {self.correction!r}")
        if self.planned_users is not None and self.planned_users < 2:
            raise ValueError("planned_users must be >= 2")
        if not 0 < self.srm_threshold < 1:
            raise ValueError("srm_threshold must be in (0, 1)")
        if self.looks < 1:
            raise ValueError("looks must be >= 1")
        if self.shares is not None and (not self.shares or any(not v > 0 for v in self.shares.values())):
            raise ValueError("shares must map every variant to a share > 0")

    def metrics(self) -> list[MetricSpec]:
        """Primary, guardrails, then secondary metrics, each name once."""
        seen: dict[str, MetricSpec] = {}
        for m in (self.primary, *self.guardrails, *self.secondary):
            seen.setdefault(m.name, m)
        return list(seen.values())

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> AnalysisSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise ValueError(f"unknown analysis settings {sorted(unknown)}; known: {sorted(known)}")
        if "control" not in doc or "primary" not in doc:
            raise ValueError("an analysis spec needs 'control' and 'primary'")

        def metric(m: Any) -> MetricSpec:
            return MetricSpec(m) if isinstance(m, str) else MetricSpec(**m)

        args = dict(doc)
        args["primary"] = metric(doc["primary"])
        for key in ("guardrails", "secondary"):
            args[key] = tuple(metric(m) for m in doc.get(key, ()))
        args["segments"] = tuple(doc.get("segments", ()))
        return cls(**args)

    @classmethod
    def from_experiment(cls, experiment: Any, control: str | None = None, **overrides: Any) -> AnalysisSpec:
        """From an experiments.spec.Experiment: its variants' shares, primary metric, guardrails
        and alpha. Control is ``control``, else the variant named 'control', else the first."""
        names = [v.name for v in experiment.variants]
        ctrl = control or ("control" if "control" in names else names[0])

        def metric(m: Any) -> MetricSpec:
            return MetricSpec(m.metric, getattr(m, "direction", "increase"), getattr(m, "threshold", None))

        return cls(control=ctrl, primary=metric(experiment.primary_metric),
                   guardrails=tuple(metric(g) for g in experiment.guardrails),
                   alpha=float(getattr(experiment, "alpha", 0.05) or 0.05),
                   shares={v.name: float(v.share) for v in experiment.variants}, **overrides)
