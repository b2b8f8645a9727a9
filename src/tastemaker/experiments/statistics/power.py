"""Power and sample size, asked when an experiment is created (statsmodels.stats.power).

* Proportions: Cohen's effect size ``h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))`` (statsmodels
  ``proportion_effectsize``) with the normal-approximation power of a two-sided z-test
  (``NormalIndPower``). The arcsine transform stabilises the variance, so the same formula
  serves small and large base rates.
* Means: Cohen's ``d = mde / sd`` with the two-sample t-test power (``TTestIndPower``).

``ratio`` is ``n_treatment / n_control`` (1 for an even split); sizes are users per arm,
rounded up.

Example (5% base CTR, +5% relative lift, alpha 0.05, power 0.8):
    >>> sample_size_proportions(0.05, relative_lift=0.05)
    122107
"""

from __future__ import annotations

import math

from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize


def _check(alpha: float, power: float, ratio: float) -> None:
    if not 0 < alpha < 1 or not 0 < power < 1 or not ratio > 0:
        raise ValueError(f"need 0 < alpha < 1, 0 < power < 1, ratio > 0; got {alpha}, {power}, {ratio}")


def _target(base: float, relative_lift: float | None, absolute: float | None) -> float:
    if (relative_lift is None) == (absolute is None):
        raise ValueError("give exactly one of relative_lift or absolute effect")
    effect = base * relative_lift if relative_lift is not None else absolute
    if effect == 0:
        raise ValueError("the effect to detect must be non-zero")
    return base + effect


def sample_size_proportions(base_rate: float, relative_lift: float | None = None,
                            absolute: float | None = None, alpha: float = 0.05,
                            power: float = 0.8, ratio: float = 1.0) -> int:
    """Control-arm users needed to detect ``base_rate -> base_rate * (1 + relative_lift)``."""
    _check(alpha, power, ratio)
    if not 0 < base_rate < 1:
        raise ValueError(f"base_rate must be in (0, 1), got {base_rate}")
    p1 = _target(base_rate, relative_lift, absolute)
    if not 0 < p1 < 1:
        raise ValueError(f"the target rate {p1} is outside (0, 1)")
    h = proportion_effectsize(p1, base_rate)
    n = NormalIndPower().solve_power(effect_size=abs(h), alpha=alpha, power=power, ratio=ratio)
    return int(math.ceil(n))


def power_proportions(base_rate: float, n_control: int, relative_lift: float | None = None,
                      absolute: float | None = None, alpha: float = 0.05, ratio: float = 1.0) -> float:
    """Power of the two-sided z-test with ``n_control`` users in control."""
    _check(alpha, 0.5, ratio)
    h = proportion_effectsize(_target(base_rate, relative_lift, absolute), base_rate)
    return float(NormalIndPower().power(effect_size=abs(h), nobs1=n_control, alpha=alpha, ratio=ratio))


def sample_size_means(sd: float, mde: float, alpha: float = 0.05, power: float = 0.8,
                      ratio: float = 1.0) -> int:
    """Control-arm users needed to detect an absolute difference ``mde`` of means (per-user sd)."""
    _check(alpha, power, ratio)
    if not sd > 0 or mde == 0:
        raise ValueError(f"need sd > 0 and a non-zero mde, got sd={sd}, mde={mde}")
    n = TTestIndPower().solve_power(effect_size=abs(mde) / sd, alpha=alpha, power=power, ratio=ratio)
    return int(math.ceil(n))


def power_means(sd: float, mde: float, n_control: int, alpha: float = 0.05, ratio: float = 1.0) -> float:
    """Power of the two-sided two-sample t-test with ``n_control`` users in control."""
    _check(alpha, 0.5, ratio)
    return float(TTestIndPower().power(effect_size=abs(mde) / sd, nobs1=n_control, alpha=alpha, ratio=ratio))
