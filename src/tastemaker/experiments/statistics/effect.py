"""The result of comparing one treatment with control on one metric.

Every two-sample test (:func:`~.proportions.two_proportion_ztest`,
:func:`~.welch.welch_ttest`) returns an :class:`Effect`: the absolute difference
``treatment - control`` with its confidence interval, the relative lift
``treatment / control - 1`` with its interval, the test statistic and the two-sided p-value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy import stats


@dataclass(frozen=True)
class Effect:
    """Treatment minus control on one metric (two-sided test, CIs at ``1 - alpha``)."""

    control_mean: float
    treatment_mean: float
    n_control: int
    n_treatment: int
    difference: float
    ci_low: float
    ci_high: float
    relative: float | None  # treatment / control - 1; None when the control mean is 0
    rel_ci_low: float | None
    rel_ci_high: float | None
    statistic: float
    p_value: float
    alpha: float
    method: str

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    def to_dict(self) -> dict:
        """Plain floats (NaN and infinities become None) so the dict is JSON-serialisable."""
        return {k: _plain(v) for k, v in asdict(self).items()}


def _plain(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def log_ratio_interval(mean_t: float, se_t: float, mean_c: float, se_c: float,
                       alpha: float) -> tuple[float | None, float | None, float | None]:
    """Relative lift ``mean_t / mean_c - 1`` and its CI by the delta method on the log ratio.

    ``var(log mt - log mc) ~= se_t^2 / mt^2 + se_c^2 / mc^2`` (independent samples); the
    interval is exponentiated back, so it is asymmetric and stays above -100%. Means that are
    not both positive have no log ratio: the lift is then ``mt / mc - 1`` without an interval
    (or None when the control mean is 0).
    """
    if mean_c == 0:
        return None, None, None
    rel = mean_t / mean_c - 1.0
    if mean_t <= 0 or mean_c < 0:
        return rel, None, None
    sd = math.sqrt((se_t / mean_t) ** 2 + (se_c / mean_c) ** 2)
    z = float(stats.norm.ppf(1 - alpha / 2))
    log_r = math.log(mean_t / mean_c)
    return rel, math.expm1(log_r - z * sd), math.expm1(log_r + z * sd)
