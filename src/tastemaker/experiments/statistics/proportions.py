"""Two-proportion z-test with confidence intervals for the difference and the relative lift.

For a per-user binary metric (converted, clicked at least once): ``x`` successes out of ``n``
users per arm. The test is the classic pooled z-test (statsmodels ``proportions_ztest``); the
interval for the difference is the unpooled Wald interval and the one for the relative lift
is the log-ratio (Katz) interval, both from statsmodels ``confint_proportions_2indep``.

Example (the counts of statsmodels' own proportions_ztest example style):
    >>> e = two_proportion_ztest(120, 1000, 150, 1000)
    >>> round(e.difference, 3), round(e.p_value, 4), e.significant
    (0.03, 0.0496, True)
"""

from __future__ import annotations

import math

from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from tastemaker.experiments.statistics.effect import Effect


def _check(x: int, n: int, name: str) -> None:
    if n < 1 or x < 0 or x > n:
        raise ValueError(f"{name}: need 0 <= successes <= users and users >= 1, got {x}/{n}")


def two_proportion_ztest(x_control: int, n_control: int, x_treatment: int, n_treatment: int,
                         alpha: float = 0.05) -> Effect:
    """Compare ``x_treatment / n_treatment`` with ``x_control / n_control`` (two-sided)."""
    _check(x_control, n_control, "control")
    _check(x_treatment, n_treatment, "treatment")
    p_c, p_t = x_control / n_control, x_treatment / n_treatment
    if x_control + x_treatment in (0, n_control + n_treatment):  # no variance: nothing to test
        z, p = 0.0, 1.0
    else:
        z, p = proportions_ztest([x_treatment, x_control], [n_treatment, n_control])
    lo, hi = confint_proportions_2indep(x_treatment, n_treatment, x_control, n_control,
                                        method="wald", compare="diff", alpha=alpha)
    rel = rel_lo = rel_hi = None
    if p_c > 0:
        rel = p_t / p_c - 1.0
        if p_t > 0:
            r_lo, r_hi = confint_proportions_2indep(x_treatment, n_treatment, x_control, n_control,
                                                    method="log", compare="ratio", alpha=alpha)
            rel_lo, rel_hi = float(r_lo) - 1.0, float(r_hi) - 1.0
    return Effect(control_mean=p_c, treatment_mean=p_t, n_control=int(n_control),
                  n_treatment=int(n_treatment), difference=p_t - p_c, ci_low=float(lo),
                  ci_high=float(hi), relative=rel, rel_ci_low=rel_lo, rel_ci_high=rel_hi,
                  statistic=float(z), p_value=float(p) if math.isfinite(p) else 1.0,
                  alpha=alpha, method="two-proportion z-test")
