"""Welch's unequal-variance t-test with confidence intervals.

For a per-user real-valued metric (revenue per user, items per session). From samples it is
scipy's ``ttest_ind(equal_var=False)``; from summary statistics (CUPED-adjusted means and
variances, streaming sums) the same test with Welch-Satterthwaite degrees of freedom and
scipy's t distribution. The relative lift's interval is the delta method on the log ratio
(:func:`~.effect.log_ratio_interval`).

Example:
    >>> e = welch_ttest([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 5.0, 7.0, 8.0])
    >>> round(e.difference, 2), round(e.p_value, 4)
    (2.5, 0.1039)
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from tastemaker.experiments.statistics.effect import Effect, log_ratio_interval


def welch_from_stats(mean_c: float, var_c: float, n_c: int, mean_t: float, var_t: float,
                     n_t: int, alpha: float = 0.05) -> Effect:
    """Welch's test from per-arm mean, sample variance (ddof=1) and size."""
    if n_c < 2 or n_t < 2:
        raise ValueError(f"Welch's test needs at least 2 users per arm, got {n_c} and {n_t}")
    if var_c < 0 or var_t < 0:
        raise ValueError("variances must be >= 0")
    se2_c, se2_t = var_c / n_c, var_t / n_t
    se = math.sqrt(se2_c + se2_t)
    diff = mean_t - mean_c
    if se == 0:  # both arms constant: the difference is exact
        t, p, lo, hi, df = (0.0, 1.0, diff, diff, float(n_c + n_t - 2)) if diff == 0 else \
            (math.copysign(math.inf, diff), 0.0, diff, diff, float(n_c + n_t - 2))
    else:
        df = (se2_c + se2_t) ** 2 / (se2_c ** 2 / (n_c - 1) + se2_t ** 2 / (n_t - 1))
        t = diff / se
        p = float(2 * stats.t.sf(abs(t), df))
        q = float(stats.t.ppf(1 - alpha / 2, df))
        lo, hi = diff - q * se, diff + q * se
    rel, rel_lo, rel_hi = log_ratio_interval(mean_t, math.sqrt(se2_t), mean_c, math.sqrt(se2_c), alpha)
    return Effect(control_mean=float(mean_c), treatment_mean=float(mean_t), n_control=int(n_c),
                  n_treatment=int(n_t), difference=float(diff), ci_low=float(lo), ci_high=float(hi),
                  relative=rel, rel_ci_low=rel_lo, rel_ci_high=rel_hi, statistic=float(t),
                  p_value=float(p), alpha=alpha, method=f"Welch t-test (df={df:.1f})")


def welch_ttest(control, treatment, alpha: float = 0.05) -> Effect:
    """Welch's test of ``mean(treatment) - mean(control)`` from per-user values."""
    c = np.asarray(control, dtype=np.float64)
    t = np.asarray(treatment, dtype=np.float64)
    if not (np.isfinite(c).all() and np.isfinite(t).all()):
        raise ValueError("values must be finite (no NaN or infinity)")
    return welch_from_stats(float(c.mean()) if c.size else math.nan, float(c.var(ddof=1)) if c.size > 1 else 0.0,
                            c.size, float(t.mean()) if t.size else math.nan,
                            float(t.var(ddof=1)) if t.size > 1 else 0.0, t.size, alpha)
