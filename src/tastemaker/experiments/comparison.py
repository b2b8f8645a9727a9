"""One metric, one treatment against control: values (CUPED-adjusted when possible), the
fixed-horizon test and the probability to beat control.

Shared by analysis, the cumulative-effect curve and the per-segment breakdown, so all three
compare the same way:

* a ``proportion`` metric without CUPED uses the two-proportion z-test and Beta-Binomial
  posteriors; any ``mean`` metric, and a proportion metric whose values CUPED adjusted (they
  are no longer 0/1), use Welch's t-test and normal posteriors;
* CUPED needs ``covariates['pre_<metric>']`` with some variance; theta is pooled within
  variants over the users passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tastemaker.experiments.analysis_spec import MetricSpec
from tastemaker.experiments.metrics_table import UserMetrics
from tastemaker.experiments.statistics.bayes import prob_beat_control_means, prob_beat_control_proportions
from tastemaker.experiments.statistics.cuped import CupedResult, cuped_adjust
from tastemaker.experiments.statistics.effect import Effect
from tastemaker.experiments.statistics.proportions import two_proportion_ztest
from tastemaker.experiments.statistics.welch import welch_ttest


def infer_kind(values: np.ndarray) -> str:
    """``proportion`` when every value is 0 or 1, else ``mean``."""
    return "proportion" if values.size and np.isin(values, (0.0, 1.0)).all() else "mean"


@dataclass
class Prepared:
    """A metric's per-user values for the users of a table, ready to compare."""

    metric: MetricSpec
    kind: str
    values: np.ndarray  # CUPED-adjusted when ``cuped`` is set
    raw: np.ndarray
    variant: np.ndarray
    cuped: CupedResult | None

    def arm(self, variant: str, adjusted: bool = True) -> np.ndarray:
        return (self.values if adjusted else self.raw)[self.variant == variant]


def prepare(table: UserMetrics, metric: MetricSpec, use_cuped: bool = True) -> Prepared:
    raw = table.values(metric.name)
    kind = metric.kind or infer_kind(raw)
    x = table.covariate(metric.name) if use_cuped else None
    cuped = None
    if x is not None and len(raw) >= 3 and np.ptp(x) > 0:
        cuped = cuped_adjust(raw, x, groups=table.variant)
    return Prepared(metric, kind, raw if cuped is None else cuped.adjusted, raw, table.variant, cuped)


def compare(p: Prepared, control: str, treatment: str, alpha: float) -> Effect:
    """Fixed-horizon test of ``treatment - control`` (raises ValueError with too few users)."""
    c, t = p.arm(control), p.arm(treatment)
    if p.kind == "proportion" and p.cuped is None:
        return two_proportion_ztest(int(c.sum()), c.size, int(t.sum()), t.size, alpha)
    return welch_ttest(c, t, alpha)


def prob_beat(p: Prepared, control: str, treatment: str) -> float:
    """P(treatment is better than control), 'better' in the metric's good direction."""
    c, t = p.arm(control), p.arm(treatment)
    if p.kind == "proportion" and p.cuped is None:
        args = (int(c.sum()), c.size, int(t.sum()), t.size)
        if p.metric.sign < 0:  # lower is better: P(p_t < p_c) is P(control beats treatment)
            args = args[2:] + args[:2]
        return prob_beat_control_proportions(*args)
    se = lambda a: float(np.sqrt(a.var(ddof=1) / a.size)) if a.size > 1 else float("inf")  # noqa: E731
    pb = prob_beat_control_means(float(c.mean()), se(c), float(t.mean()), se(t))
    return pb if p.metric.sign > 0 else 1.0 - pb
