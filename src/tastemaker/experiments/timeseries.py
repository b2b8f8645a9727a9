"""Cumulative effect over time, with the fixed-horizon interval and the sequential boundary.

Users are ordered by their first exposure; at ``looks`` cut times (quantiles of the exposure
times of the two arms, so each look adds about as many users) the difference of means is
re-estimated on everybody exposed so far. Each look carries the naive fixed-horizon interval
(what a peeking analyst would read) and the mSPRT confidence sequence and always-valid p-value
(:mod:`.statistics.sequential`), which stay valid however often one looks.

Each user's value is the one in the table (measured up to the analysis), i.e. the curve is by
exposure cohort: a look at time t shows the users exposed by t with their outcomes so far.

``tau2`` is fixed for all looks: tuned so the boundary is tightest at ``planned_users`` per
arm when given (the power calculation's size), else at the current sample.

Example:
    >>> import numpy as np
    >>> from tastemaker.experiments.metrics_table import UserMetrics
    >>> rng = np.random.default_rng(1); n = 4000
    >>> t = UserMetrics(np.arange(n), np.where(np.arange(n) % 2, "b", "a"), rng.uniform(0, 100, n),
    ...                 {"revenue": rng.exponential(10, n) + (np.arange(n) % 2) * 2.0})
    >>> s = cumulative_effect(t, "revenue", "a", "b", looks=10)
    >>> len(s["ts"]), s["sequential"]["crossed"]
    (10, True)
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from tastemaker.experiments.analysis_spec import MetricSpec
from tastemaker.experiments.comparison import Prepared, prepare
from tastemaker.experiments.metrics_table import UserMetrics
from tastemaker.experiments.statistics.sequential import msprt_normal, optimal_tau2, running


def _cumulative(ts: np.ndarray, v: np.ndarray, cuts: np.ndarray):
    """n, mean and sample variance of the values with ``ts <= cut``, per cut."""
    order = np.argsort(ts, kind="stable")
    ts, v = ts[order], v[order]
    s1 = np.concatenate([[0.0], np.cumsum(v)])
    s2 = np.concatenate([[0.0], np.cumsum(v * v)])
    n = np.searchsorted(ts, cuts, side="right")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1[n] / n
        var = np.maximum(s2[n] - n * mean ** 2, 0.0) / (n - 1)
    return n, mean, var


def horizon_tau2(var_now: float, n_now: float, planned_users: int | None, alpha: float) -> float:
    """The mixing variance: tightest at ``planned_users`` per arm (else at ``n_now``).

    ``V`` shrinks like 1/n, so the variance at the horizon is ``var_now * n_now / planned``.
    """
    if not var_now > 0:
        return 1.0  # no variance yet: any tau2; no look carries evidence
    return optimal_tau2(var_now * n_now / planned_users if planned_users else var_now, alpha)


def cumulative_from_prepared(p: Prepared, exposure_ts: np.ndarray, control: str, treatment: str,
                             alpha: float = 0.05, looks: int = 20,
                             planned_users: int | None = None) -> dict:
    mc, mt = p.variant == control, p.variant == treatment
    both = exposure_ts[mc | mt]
    if both.size == 0:
        raise ValueError(f"no users in {control!r} or {treatment!r}")
    cuts = np.unique(np.quantile(both, np.linspace(0, 1, looks + 1)[1:], method="higher"))
    nc, mean_c, var_c = _cumulative(exposure_ts[mc], p.values[mc], cuts)
    nt, mean_t, var_t = _cumulative(exposure_ts[mt], p.values[mt], cuts)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = mean_t - mean_c
        v = var_c / nc + var_t / nt
    ok = (nc >= 2) & (nt >= 2) & np.isfinite(v)
    v = np.where(ok, v, np.nan)
    n_last = min(nc[-1], nt[-1])
    tau2 = horizon_tau2(float(v[-1]) if ok[-1] else 0.0, n_last, planned_users, alpha)
    p_seq, cs_lo, cs_hi = running(diff, v, tau2, alpha)
    z = float(stats.norm.ppf(1 - alpha / 2))
    se = np.sqrt(v)
    seq = msprt_normal(diff, v, tau2, alpha)
    clean = lambda a: [float(x) if math.isfinite(x) else None for x in a]  # noqa: E731 - JSON
    return {"metric": p.metric.name, "control": control, "treatment": treatment,
            "cuped": p.cuped is not None, "ts": clean(cuts), "n_control": nc.tolist(),
            "n_treatment": nt.tolist(), "control_mean": clean(mean_c), "treatment_mean": clean(mean_t),
            "difference": clean(diff), "ci_low": clean(diff - z * se), "ci_high": clean(diff + z * se),
            "cs_low": clean(cs_lo), "cs_high": clean(cs_hi), "p_sequential": clean(p_seq),
            "sequential": seq.to_dict()}


def cumulative_effect(table: UserMetrics, metric: str | MetricSpec, control: str, treatment: str,
                      alpha: float = 0.05, looks: int = 20, planned_users: int | None = None,
                      cuped: bool = True) -> dict:
    """The curve as a plain dict of per-look lists (JSON-ready) plus the sequential summary."""
    spec = MetricSpec(metric) if isinstance(metric, str) else metric
    return cumulative_from_prepared(prepare(table, spec, cuped), table.exposure_ts, control, treatment,
                                    alpha, looks, planned_users)
