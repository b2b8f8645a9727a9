"""Model canaries: a new model version serves a share of traffic beside the serving one, and
a guardrail breach stops it.

A canary is an experiment of kind ``canary`` (:func:`canary_experiment`): variant
``control`` (the serving version) and ``candidate`` (the new version, its ``share``). The
server measures each variant in process (:class:`CanaryMonitor`: requests, errors, latency
of ``Engine.recommend``) and checks the guardrails against them every second; the served
metrics (CTR and the like, from attribution) join through the ``metrics`` argument of
:meth:`CanaryMonitor.check`. A breach stops the experiment (the serving version keeps
serving everyone), with the reason in its ``status_reason`` and in the audit log.

>>> e = canary_experiment(7, 0.1, serving_version=6, latency_budget_ms=50.0)
>>> [(v.name, v.share, v.override.model_version) for v in e.variants]
[('control', 0.9, 6), ('candidate', 0.1, 7)]
>>> m = CanaryMonitor(min_requests=2)
>>> for error in (False, True, True):
...     m.record(e, e.variants[1], 0.001, error)
>>> m.check(e)
'candidate: error_rate 0.667 above its budget 0.01 (3 requests)'
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Mapping

import numpy as np

from tastemaker.experiments.spec import IN_PROCESS_METRICS, Experiment, Variant, experiment_from_json

CTR_TOLERANCE = 0.05  # a canary's served CTR may be this much worse than control's (relative)
MIN_REQUESTS = 100  # a variant's in-process guardrails are judged from this many requests on
WINDOW = 2000  # latencies kept per variant (the p99 of the latest ones)


def canary_experiment(version: int, share: float, serving_version: int | None, max_error_rate: float = 0.01,
                      latency_budget_ms: float = 100.0, now: float | None = None,
                      ctr_tolerance: float = CTR_TOLERANCE) -> Experiment:
    """The canary of model ``version`` on every placement: ``share`` of users get it. Its
    guardrails: the error and latency budgets (in process) and the served CTR, at most
    ``ctr_tolerance`` worse than control's (judged by the analysis, :func:`served_metrics`)."""
    stamp = int((now if now is not None else time.time()) * 1000)  # ms: two canaries a second apart differ
    control = {"model_version": serving_version} if serving_version is not None else {}
    return experiment_from_json({
        "id": f"canary-v{version}-{stamp}", "name": f"Canary of model v{version}", "kind": "canary", "placements": ["*"],
        "layer": "canary", "exclusion_group": "model-canary", "status": "running",
        "variants": [{"name": "control", "share": round(1.0 - share, 4), "override": control},
                     {"name": "candidate", "share": share, "override": {"model_version": version}}],
        "guardrails": [{"metric": "error_rate", "threshold": max_error_rate},
                       {"metric": "latency_p99_ms", "threshold": latency_budget_ms},
                       {"metric": "ctr", "threshold": ctr_tolerance}]})


def served_metrics(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """For :meth:`CanaryMonitor.check`: per treatment variant of a results document
    (:func:`tastemaker.experiments.results.experiment_results`), its users and the analysis'
    judgement of each served guardrail (``{"judged": {metric: {"status", "why"}}}``) and of
    the primary metric (``decision`` ``worse``: significantly worse than control at the
    experiment's alpha, always-valid when sequential). Nothing without an analysis."""
    analysis = results.get("analysis")
    if not analysis:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in analysis["variants"]:
        judged = {g["metric"]: {"status": g["status"], "why": g.get("why", "")} for g in row["guardrails"]}
        primary = analysis["primary"]
        if row.get("decision") == "worse" and primary not in judged:
            judged[primary] = {"status": "breached", "why": f"{primary} significantly worse than control "
                               f"(adjusted p={row['p_value_adjusted']:.3g})"}
        out[row["variant"]] = {"users": row["users"], "judged": judged}
    return out


def monitored(experiment: Experiment) -> bool:
    """Whether the server measures this experiment's variants in process."""
    return experiment.kind == "canary" or any(g.metric in IN_PROCESS_METRICS for g in experiment.guardrails)


class _Stats:
    __slots__ = ("requests", "errors", "latencies")

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.latencies: deque[float] = deque(maxlen=WINDOW)


class CanaryMonitor:
    """Per (experiment, variant): requests, errors and recent latencies, in this process."""

    def __init__(self, min_requests: int = MIN_REQUESTS):
        self.min_requests = min_requests
        self._stats: dict[tuple[str, str], _Stats] = {}
        self._lock = threading.Lock()

    def record(self, experiment: Experiment, variant: Variant, seconds: float | None, error: bool) -> None:
        key = (experiment.id, variant.name)
        stats = self._stats.get(key)
        if stats is None:
            with self._lock:
                stats = self._stats.setdefault(key, _Stats())
        stats.requests += 1  # a lost increment under a race moves a rate by 1/n: no lock on the hot path
        if error:
            stats.errors += 1
        elif seconds is not None:
            stats.latencies.append(seconds)

    def metrics(self, experiment: Experiment) -> dict[str, dict[str, float]]:
        """``{variant: {"requests", "errors", "error_rate", "latency_p99_ms"}}`` measured so far."""
        out: dict[str, dict[str, float]] = {}
        for v in experiment.variants:
            s = self._stats.get((experiment.id, v.name))
            if s is None:
                continue
            lat = np.fromiter(list(s.latencies), dtype=float)
            out[v.name] = {"requests": s.requests, "errors": s.errors, "error_rate": s.errors / s.requests if s.requests else 0.0,
                           "latency_p99_ms": float(np.percentile(lat, 99) * 1000.0) if len(lat) else float("nan")}
        return out

    def forget(self, experiment_id: str) -> None:
        with self._lock:
            for key in [k for k in self._stats if k[0] == experiment_id]:
                del self._stats[key]

    def check(self, experiment: Experiment, metrics: Mapping[str, Mapping[str, Any]] | None = None) -> str | None:
        """The first guardrail a non-control variant breaches, in words (None: all hold).

        In-process metrics (error_rate, latency_p99_ms) are judged against their absolute
        budget once a variant has ``min_requests``; any other metric, given per variant in
        ``metrics`` (attribution), against control's value moved by the tolerated share, or,
        where ``metrics`` carries the analysis' judgement (``judged``, :func:`served_metrics`),
        breached only when the analysis found it so with its confidence."""
        measured = self.metrics(experiment)
        for name, values in (metrics or {}).items():
            measured[name] = {**measured.get(name, {}), **values}
        control = measured.get(experiment.variants[0].name, {})
        for v in experiment.variants[1:]:
            got = measured.get(v.name, {})
            judged = got.get("judged", {})
            for metric, judgement in judged.items():  # the analysis' verdict on a served metric
                if judgement["status"] == "breached":
                    return f"{v.name}: served metric: {judgement['why']} ({got.get('users', '?')} users)"
            for g in experiment.guardrails:
                if g.metric in judged:
                    continue
                value = got.get(g.metric)
                if value is None or value != value or g.threshold is None:  # not measured (NaN: no sample)
                    continue
                if g.metric in IN_PROCESS_METRICS:
                    if got.get("requests", 0) >= self.min_requests and value > g.threshold:
                        return (f"{v.name}: {g.metric} {value:.3g} above its budget {g.threshold:g} "
                                f"({int(got['requests'])} requests)")
                    continue
                base = control.get(g.metric)
                if base is None or base != base:
                    continue
                worse = value < base * (1 - g.threshold) if g.direction == "increase" else value > base * (1 + g.threshold)
                if worse:
                    return (f"{v.name}: {g.metric} {value:.4g} against control's {base:.4g}, worse than the "
                            f"tolerated {g.threshold:.1%}")
        return None
