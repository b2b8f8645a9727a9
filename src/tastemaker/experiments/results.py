"""An experiment's results document: attribution (per-user metrics from the logs) then analysis.

:func:`experiment_results` is what ``GET /v1/experiments/{id}/results`` and ``tastemaker
experiments report ID`` both return: the experiment's window, per variant the observed figures
(users, lists, CTR as the share of served lists with a click, clicks per list, add-to-cart
rate, conversion, revenue per user, items per session, list coverage and diversity) and the
analysis (verdict, effects with intervals, guardrails, SRM, sequential boundary). It reads the
event and impression logs, so callers run it off the event loop.
"""

from __future__ import annotations

import math
import time
from html import escape
from collections.abc import Iterable
from typing import Any

import numpy as np

from tastemaker.experiments.analysis import analyze
from tastemaker.experiments.analysis_spec import AnalysisSpec, MetricSpec
from tastemaker.experiments.attribution import (
    DEFAULT_PRE_PERIOD_S,
    DEFAULT_WINDOW_S,
    METRICS,
    Attribution,
    attribute_experiment,
)
from tastemaker.experiments.report import render_report
from tastemaker.experiments.spec import Experiment, experiment_from_json
from tastemaker.storage.factory import Stores


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def variant_figures(attribution: Attribution, variants: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Observed figures per variant (``variants`` and any seen). Rates over lists are pooled
    (lists with a click / lists served); per-user metrics are means over the variant's users."""
    table = attribution.users
    out: dict[str, dict[str, Any]] = {}
    for variant in sorted(set(table.variant.tolist()) | set(attribution.lists) | set(variants)):
        mask = table.variant == variant
        lists = table.metrics["exposures"][mask]
        total = float(lists.sum())

        def pooled(metric: str) -> float | None:
            return _finite(float((table.metrics[metric][mask] * lists).sum()) / total) if total else None

        def mean(metric: str) -> float | None:
            return _finite(float(table.metrics[metric][mask].mean())) if mask.any() else None

        figures = {"users": int(mask.sum()), "lists": int(total), "ctr": pooled("ctr"),
                   "clicks_per_list": _finite(float(table.metrics["clicks"][mask].sum()) / total) if total else None,
                   "add_to_cart_rate": pooled("add_to_cart_rate"), "conversion": mean("conversion"),
                   "revenue_per_user": mean("revenue"), "items_per_session": mean("items_per_session")}
        listed = attribution.lists.get(variant)
        if listed is not None:
            figures.update({"distinct_items": listed.distinct_items, "coverage": _finite(listed.coverage),
                            "diversity": _finite(listed.diversity)})
        out[variant] = figures
    return out


def experiment_results(stores: Stores, experiment: Experiment, now: float | None = None,
                       window_s: float = DEFAULT_WINDOW_S, pre_period_s: float = DEFAULT_PRE_PERIOD_S) -> dict[str, Any]:
    """The results document of ``experiment`` as of ``now`` (see the module docstring)."""
    now = time.time() if now is None else now
    started = time.perf_counter()
    attribution = attribute_experiment(stores, experiment, now, window_s, pre_period_s)
    doc: dict[str, Any] = {
        "experiment_id": experiment.id, "status": experiment.status, "start": attribution.start,
        "end": attribution.end, "as_of": now, "attribution_window_s": window_s, "pre_period_s": pre_period_s,
        "users": int(len(attribution.users.user_id)), "crossovers": attribution.crossovers,
        "outcomes": attribution.outcomes, "metrics": variant_figures(attribution, (v.name for v in experiment.variants))}
    doc.update(_analysis(attribution, experiment))
    doc["seconds"] = round(time.perf_counter() - started, 4)
    return doc


def _analysis(attribution: Attribution, experiment: Experiment) -> dict[str, Any]:
    """The statistics of the per-user table (:func:`tastemaker.experiments.analysis.analyze`):
    the experiment's primary metric and guardrails, every other attributed metric as secondary,
    broken down by ``pre_period``. A table analysis cannot use yet (no users, a variant with
    none) gives ``verdict: null`` and the reason in ``analysis_error``."""
    table = attribution.users
    named = {experiment.primary_metric.metric, *(g.metric for g in experiment.guardrails)}
    secondary = tuple(MetricSpec(m) for m in METRICS if m not in named)
    segments = tuple(k for k, v in table.segments.items() if len(np.unique(v)) > 1)
    try:
        spec = AnalysisSpec.from_experiment(experiment, secondary=secondary, segments=segments)
        results = analyze(table, spec).to_dict()
    except ValueError as exc:
        return {"verdict": None, "winner": None, "analysis": None, "analysis_error": str(exc)}
    return {"verdict": results["verdict"], "winner": results["winner"], "analysis": results}


def load_experiment(stores: Stores, experiment_id: str) -> Experiment:
    """The stored experiment ``experiment_id`` (LookupError naming it when there is none)."""
    record = stores.experiments.get(experiment_id) if stores.experiments is not None else None
    if record is None:
        raise LookupError(f"no experiment {experiment_id!r}")
    return experiment_from_json(record.definition)


def html_report(doc: dict[str, Any], experiment: Experiment) -> str:
    """The HTML report (plots inline) of a results document that has an analysis; without one,
    a page that says why."""
    title = f"Experiment {experiment.id}" + (f": {experiment.name}" if experiment.name else "")
    if doc.get("analysis") is None:
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head><body>"
                f"<h1>{escape(title)}</h1><p>No analysis yet: {escape(str(doc.get('analysis_error')))}</p>"
                "</body></html>")
    return render_report(doc["analysis"], title=title)
