"""Automated analysis of an experiment: a per-user metric table in, a verdict with reasons out.

Input (see :mod:`.metrics_table`): a :class:`UserMetrics` table, one row per user, with
``user_id``, ``variant``, ``exposure_ts`` (first exposure, epoch seconds), ``metrics``
(name -> per-user float), optional ``covariates`` (``pre_<metric>`` for CUPED) and optional
``segments`` (column -> per-user label); and an :class:`AnalysisSpec` (see
:mod:`.analysis_spec`): control, primary metric, guardrails, alpha, configured shares,
sequential on/off, planned users per arm, correction, segments to break down by.

Output: :class:`Results`; ``Results.to_dict()`` is plain JSON (floats, strings, lists).

How it decides, in this order:

1. **SRM** — chi-square of users per variant against the configured shares at
   ``p < srm_threshold`` (0.001): ``invalid_srm``; nothing else is trusted.
2. **Guardrails** — per treatment, the relative change of each guardrail metric with its
   interval (the always-valid confidence sequence when ``sequential``, else the fixed CI):
   *breached* when the whole interval is worse than ``-threshold`` in the metric's bad
   direction (the data show a degradation beyond the tolerance), *passed* when the whole
   interval is better than that (a degradation that large is ruled out), else
   *inconclusive*. Any breach: ``stop_guardrail``. A guardrail metric the table lacks (the
   in-process ``error_rate``, ``latency_p99_ms`` of canaries) is reported ``not_measured``.
3. **Primary** — per treatment the p-value that decides is the mSPRT always-valid p-value when
   ``sequential`` (peeking is safe: looks are the cumulative cuts by exposure time) else the
   fixed-horizon test's, adjusted across treatments (Holm by default). A treatment whose
   adjusted p is below alpha and whose effect goes the good way wins: ``ship`` the one with the
   largest relative effect. A fixed-horizon analysis before ``planned_users`` per arm decides
   nothing (peeking at a fixed-horizon test inflates false positives). Every treatment
   significantly worse: ``keep_control``. Otherwise ``no_difference_yet``.

CUPED (when the table has ``pre_<metric>``) adjusts the values before every test; theta is
estimated once on all users and reused at the sequential looks. The effect CIs shown are
at ``1 - alpha`` per comparison (the adjusted p-values carry the multiplicity correction).

Example:
    >>> import numpy as np
    >>> from tastemaker.experiments.metrics_table import UserMetrics
    >>> rng = np.random.default_rng(0); n = 20_000; arm = np.arange(n) % 2
    >>> conv = (rng.random(n) < np.where(arm == 1, 0.12, 0.10)) * 1.0
    >>> table = UserMetrics(np.arange(n), np.where(arm == 1, "b", "control"), rng.uniform(0, 9, n),
    ...                     {"conversion": conv})
    >>> r = analyze(table, AnalysisSpec(control="control", primary=MetricSpec("conversion")))
    >>> r.verdict, r.winner
    ('ship', 'b')
"""

from __future__ import annotations

from dataclasses import dataclass, field


from tastemaker.experiments.analysis_spec import AnalysisSpec, MetricSpec
from tastemaker.experiments.breakdown import segment_breakdown
from tastemaker.experiments.comparison import Prepared, compare, prepare, prob_beat
from tastemaker.experiments.metrics_table import UserMetrics
from tastemaker.experiments.statistics.correction import adjust_pvalues
from tastemaker.experiments.statistics.effect import Effect
from tastemaker.experiments.statistics.srm import srm_check
from tastemaker.experiments.timeseries import cumulative_from_prepared

VERDICTS = ("ship", "keep_control", "no_difference_yet", "stop_guardrail", "invalid_srm")


@dataclass
class Results:
    verdict: str
    winner: str | None
    reason: str
    control: str
    primary: str
    srm: dict
    variants: list[dict]  # one per treatment: metrics, guardrails, decision
    summary: dict[str, dict]  # variant -> users and raw mean per metric
    timeseries: dict[str, dict] = field(default_factory=dict)  # treatment -> primary's curve
    segments: dict[str, list[dict]] = field(default_factory=dict)  # column -> breakdown rows
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("verdict", "winner", "reason", "control", "primary", "srm",
                                              "variants", "summary", "timeseries", "segments", "settings")}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2%}"


def _relative_interval(effect: Effect, seq: dict | None) -> tuple[float | None, float | None]:
    """The relative change's interval: the confidence sequence / control mean when sequential."""
    if seq is None:
        return effect.rel_ci_low, effect.rel_ci_high
    m = effect.control_mean
    if m == 0 or seq["ci_low"] is None or seq["ci_high"] is None:
        return None, None
    lo, hi = seq["ci_low"] / abs(m), seq["ci_high"] / abs(m)
    return lo, hi


def guardrail_check(g: MetricSpec, effect: Effect, seq: dict | None) -> dict:
    """passed | breached | inconclusive, with the interval and why (see the module docstring)."""
    thr = g.threshold or 0.0
    lo, hi = _relative_interval(effect, seq)
    out = {"metric": g.name, "direction": g.direction, "threshold": thr, "relative": effect.relative,
           "interval": [lo, hi], "interval_kind": "always-valid" if seq else "fixed-horizon"}
    if lo is None or hi is None:
        return {**out, "status": "inconclusive", "why": "no relative interval (control mean is 0)"}
    worst, best = (lo, hi) if g.sign > 0 else (-hi, -lo)  # in 'good' units: > 0 is better
    span = f"{g.name} {_pct(effect.relative)} [{_pct(lo)}, {_pct(hi)}]"
    if best < -thr:
        return {**out, "status": "breached", "why": f"{span}: worse than the tolerated {thr:.2%} "
                                                      f"({'lower' if g.sign > 0 else 'higher'} is worse)"}
    if worst > -thr:
        return {**out, "status": "passed", "why": f"{span}: a degradation beyond {thr:.2%} is ruled out"}
    return {**out, "status": "inconclusive", "why": f"{span}: cannot yet rule out a degradation beyond {thr:.2%}"}


def _compare_metric(p: Prepared, table: UserMetrics, spec: AnalysisSpec, t: str, primary: bool) -> dict:
    entry: dict = {"kind": p.kind, "cuped": p.cuped.to_dict() if p.cuped else None}
    try:
        effect = compare(p, spec.control, t, spec.alpha)
    except ValueError as e:
        return {**entry, "effect": None, "sequential": None, "prob_beat_control": None, "error": str(e),
                "_effect": None}
    # the curve is drawn for the primary metric even for a fixed-horizon analysis (the report's plot)
    curve = cumulative_from_prepared(p, table.exposure_ts, spec.control, t, spec.alpha, spec.looks,
                                     spec.planned_users) if spec.sequential or primary else None
    return {**entry, "effect": effect.to_dict(), "_effect": effect, "_curve": curve,
            "sequential": curve["sequential"] if curve and spec.sequential else None,
            "prob_beat_control": prob_beat(p, spec.control, t)}


def analyze(table: UserMetrics, spec: AnalysisSpec) -> Results:
    """Analyse ``table`` under ``spec`` (ValueError when they do not fit each other)."""
    counts = table.counts()
    variants = sorted(spec.shares) if spec.shares else table.variants()
    unknown = sorted(set(counts) - set(variants))
    if unknown:
        raise ValueError(f"users in variants {unknown} that the configured shares do not name ({variants})")
    if spec.control not in variants:
        raise ValueError(f"control variant {spec.control!r} is not among the variants {variants}")
    missing = [m.name for m in (spec.primary, *spec.secondary) if m.name not in table.metrics]
    if missing:
        raise ValueError(f"the table has no metric {missing} (has {sorted(table.metrics)})")
    treatments = [v for v in variants if v != spec.control]
    shares = dict(spec.shares) if spec.shares else {v: 1.0 for v in variants}
    srm = srm_check({v: counts.get(v, 0) for v in variants}, shares, spec.srm_threshold)

    measured = [m for m in spec.metrics() if m.name in table.metrics]
    prepared = {m.name: prepare(table, m, spec.cuped) for m in measured}
    rows = []
    for t in treatments:
        per_metric = {m.name: _compare_metric(prepared[m.name], table, spec, t, m.name == spec.primary.name)
                      for m in measured}
        guards = []
        for g in spec.guardrails:
            e = per_metric.get(g.name)
            if e is None:
                guards.append({"metric": g.name, "status": "not_measured",
                               "why": f"{g.name} is not in the per-user table (measured in process)"})
            elif e["_effect"] is None:
                guards.append({"metric": g.name, "status": "inconclusive", "why": e["error"]})
            else:
                guards.append(guardrail_check(g, e["_effect"], e["sequential"]))
        rows.append({"variant": t, "users": counts.get(t, 0), "metrics": per_metric, "guardrails": guards})

    _decide_primary(rows, spec)
    verdict, winner, reason = _verdict(rows, spec, srm, counts)
    timeseries = {r["variant"]: r["metrics"][spec.primary.name].get("_curve") for r in rows
                  if r["metrics"][spec.primary.name].get("_curve")}
    for r in rows:  # keep the JSON plain: drop the internal objects
        for e in r["metrics"].values():
            e.pop("_effect", None)
            e.pop("_curve", None)
    segments = {s: segment_breakdown(table, spec.primary, s, spec.control, treatments, spec.alpha, spec.cuped)
                for s in spec.segments}
    summary = {v: {"users": counts.get(v, 0), **{m.name: (float(table.values(m.name, v).mean())
                                                          if counts.get(v) else None) for m in measured}}
               for v in variants}
    settings = {"alpha": spec.alpha, "sequential": spec.sequential, "correction": spec.correction,
                "cuped": spec.cuped, "planned_users": spec.planned_users, "shares": shares,
                "srm_threshold": spec.srm_threshold, "looks": spec.looks}
    return Results(verdict, winner, reason, spec.control, spec.primary.name, srm.to_dict(), rows, summary,
                   timeseries, segments, settings)


def _decide_primary(rows: list[dict], spec: AnalysisSpec) -> None:
    """Adds ``p_value_deciding`` / ``p_value_adjusted`` / ``decision`` to each treatment row."""
    name, sign = spec.primary.name, spec.primary.sign
    p_raw = []
    for r in rows:
        e = r["metrics"][name]
        if e["effect"] is None:
            p_raw.append(1.0)
        else:
            p_raw.append(e["sequential"]["p_value"] if spec.sequential else e["effect"]["p_value"])
    p_adj = adjust_pvalues(p_raw, spec.correction)
    for r, p, pa in zip(rows, p_raw, p_adj):
        e = r["metrics"][name]
        r["p_value_deciding"], r["p_value_adjusted"] = p, pa
        early = (not spec.sequential and spec.planned_users is not None and e["effect"] is not None
                 and min(e["effect"]["n_control"], e["effect"]["n_treatment"]) < spec.planned_users)
        if e["effect"] is None or early or pa >= spec.alpha:
            r["decision"] = "inconclusive" if not early else "before_planned_size"
        else:
            r["decision"] = "better" if sign * e["effect"]["difference"] > 0 else "worse"


def _describe(r: dict, spec: AnalysisSpec) -> str:
    e = r["metrics"][spec.primary.name]["effect"]
    if e is None:
        return f"{r['variant']}: {r['metrics'][spec.primary.name]['error']}"
    return (f"{r['variant']} {spec.primary.name} {_pct(e['relative'])} "
            f"[{_pct(e['rel_ci_low'])}, {_pct(e['rel_ci_high'])}], "
            f"{'always-valid ' if spec.sequential else ''}p={r['p_value_adjusted']:.3g} ({spec.correction})")


def _verdict(rows: list[dict], spec: AnalysisSpec, srm, counts: dict) -> tuple[str, str | None, str]:
    if srm.flagged:
        obs = ", ".join(f"{v} {n} (expected {srm.expected[v]:.0f})" for v, n in srm.observed.items())
        return ("invalid_srm", None, f"sample-ratio mismatch: users {obs}, chi-square p={srm.p_value:.2g} "
                f"< {srm.threshold}; assignment or logging is broken, no effect can be trusted")
    breaches = [(r["variant"], g) for r in rows for g in r["guardrails"] if g["status"] == "breached"]
    if breaches:
        return ("stop_guardrail", None, "guardrail breached: " +
                "; ".join(f"{v}: {g['why']}" for v, g in breaches))
    better = [r for r in rows if r["decision"] == "better"]
    if better:
        best = max(better, key=lambda r: spec.primary.sign * (r["metrics"][spec.primary.name]["effect"]["relative"]
                                                              or r["metrics"][spec.primary.name]["effect"]["difference"]))
        pending = [g["metric"] for g in best["guardrails"] if g["status"] == "inconclusive"]
        note = f"; guardrails not yet shown safe: {', '.join(pending)}" if pending else ""
        return "ship", best["variant"], f"ship {best['variant']}: {_describe(best, spec)}{note}"
    if rows and all(r["decision"] == "worse" for r in rows):
        return "keep_control", None, "every variant is worse than control: " + \
            "; ".join(_describe(r, spec) for r in rows)
    n = ", ".join(f"{v} {c}" for v, c in sorted(counts.items()))
    why = "; ".join(_describe(r, spec) for r in rows) or "no treatment variant"
    if any(r["decision"] == "before_planned_size" for r in rows):
        why += f"; fixed-horizon test: waiting for {spec.planned_users} users per arm"
    return "no_difference_yet", None, f"no significant difference on {spec.primary.name} yet (users: {n}): {why}"
