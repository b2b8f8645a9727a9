"""Sequential testing that is safe under peeking: mSPRT with a normal mixture.

Why this one: the mixture sequential probability ratio test (Robbins 1970; Johari, Koomen,
Pekelis, Walsh, "Always valid inference", 2017/2022) gives, at every look, an always-valid
p-value and a confidence sequence (Howard, Ramdas, McAuliffe, Sekhon 2021: the normal-mixture
boundary) whose guarantees hold simultaneously over all looks, so an analyst may check the
results after every batch and stop whenever the boundary is crossed without inflating the
false-positive rate. With a normal mixture the test has a closed form and works for any
difference of means whose estimate is asymptotically normal, so one implementation serves
both metric kinds: proportions (Bernoulli variances) and means (sample variances).

At a look, with ``d`` the estimated difference ``treatment - control`` and ``V`` its variance
(``s_t^2 / n_t + s_c^2 / n_c``), the mixture likelihood ratio against ``H0: delta = delta0``
with mixing distribution ``N(0, tau2)`` on the effect is

    Lambda = sqrt(V / (V + tau2)) * exp(tau2 * (d - delta0)^2 / (2 V (V + tau2)))

and ``1 / Lambda`` is, by Ville's inequality, an always-valid p-value; the running minimum
over looks is still one. Inverting ``Lambda < 1 / alpha`` gives the confidence sequence
``d +- sqrt(V (V + tau2) / tau2 * (2 log(1/alpha) + log((V + tau2) / V)))``, intersected
over looks. Variances are plug-in estimates, so the guarantee is asymptotic (it holds once
each arm has a few hundred users; bench/experiment_statistics.py measures it).

``tau2`` (the mixing variance) only trades early against late power; :func:`optimal_tau2`
picks the one that makes the boundary tightest at a planned horizon (the sample size of the
power calculation). It must be fixed before the looks it is used for.

Example:
    >>> r = msprt_normal([0.0, 0.7, 0.5], [1.0, 0.04, 0.02], tau2=optimal_tau2(0.02))
    >>> r.crossed, r.crossed_at, r.ci_low > 0   # crossed at look 1 (3.5 SE); stays crossed
    (True, 1, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize


def log_mixture_lr(diff, var, tau2: float, delta0: float = 0.0):
    """``log Lambda`` at each look (arrays broadcast; ``var`` > 0)."""
    diff = np.asarray(diff, dtype=np.float64)
    var = np.asarray(var, dtype=np.float64)
    s = var + tau2
    return 0.5 * np.log(var / s) + tau2 * (diff - delta0) ** 2 / (2.0 * var * s)


def half_width(var, tau2: float, alpha: float = 0.05):
    """Half-width of the confidence sequence at each look with variance ``var``."""
    var = np.asarray(var, dtype=np.float64)
    s = var + tau2
    return np.sqrt(var * s / tau2 * (2.0 * math.log(1.0 / alpha) + np.log(s / var)))


def optimal_tau2(var_at_horizon: float, alpha: float = 0.05) -> float:
    """The mixing variance whose boundary is tightest when ``V = var_at_horizon``.

    The half-width squared is ``V (1 + 1/r) (2 log(1/alpha) + log(1 + r))`` with
    ``r = tau2 / V``: a function of ``r`` alone, minimised once with scipy.
    """
    if not var_at_horizon > 0:
        raise ValueError(f"the variance at the horizon must be > 0, got {var_at_horizon}")
    c = 2.0 * math.log(1.0 / alpha)
    res = optimize.minimize_scalar(lambda lr: (1 + math.exp(-lr)) * (c + math.log1p(math.exp(lr))),
                                   bounds=(-10.0, 15.0), method="bounded")
    return float(math.exp(res.x) * var_at_horizon)


@dataclass(frozen=True)
class SequentialResult:
    p_value: float  # always-valid: running minimum of 1 / Lambda over the looks
    ci_low: float  # confidence sequence at the last look (intersection over looks)
    ci_high: float
    crossed: bool  # the boundary was crossed at some look (p_value < alpha)
    crossed_at: int | None  # index of the first look that crossed it
    tau2: float
    alpha: float
    looks: int

    def to_dict(self) -> dict:
        f = lambda v: v if math.isfinite(v) else None  # noqa: E731 - JSON has no infinities
        return {"method": "mSPRT (normal mixture)", "p_value": self.p_value,
                "ci_low": f(self.ci_low), "ci_high": f(self.ci_high), "crossed": self.crossed,
                "crossed_at": self.crossed_at, "tau2": self.tau2, "alpha": self.alpha,
                "looks": self.looks}


def running(diffs, variances, tau2: float, alpha: float = 0.05):
    """Per-look always-valid p-values and CS bounds, running (min / intersection) over looks.

    Looks with ``var <= 0`` or non-finite values (an arm still empty or constant) carry no
    evidence: p stays, the interval stays. Returns ``(p, lo, hi)`` arrays, one per look.
    """
    d = np.asarray(diffs, dtype=np.float64)
    v = np.asarray(variances, dtype=np.float64)
    ok = np.isfinite(d) & np.isfinite(v) & (v > 0)
    vs = np.where(ok, v, 1.0)
    p_look = np.where(ok, np.minimum(1.0, np.exp(-log_mixture_lr(np.where(ok, d, 0.0), vs, tau2))), 1.0)
    hw = np.where(ok, half_width(vs, tau2, alpha), np.inf)
    lo = np.where(ok, d - hw, -np.inf)
    hi = np.where(ok, d + hw, np.inf)
    return (np.minimum.accumulate(p_look), np.maximum.accumulate(lo), np.minimum.accumulate(hi))


def msprt_normal(diffs, variances, tau2: float, alpha: float = 0.05) -> SequentialResult:
    """Run the mSPRT over looks (cumulative estimates, in time order) and summarise."""
    if not tau2 > 0:
        raise ValueError(f"tau2 must be > 0, got {tau2}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p, lo, hi = running(np.atleast_1d(diffs), np.atleast_1d(variances), tau2, alpha)
    if len(p) == 0:
        return SequentialResult(1.0, -math.inf, math.inf, False, None, tau2, alpha, 0)
    crossed = np.flatnonzero(p < alpha)
    return SequentialResult(p_value=float(p[-1]), ci_low=float(lo[-1]), ci_high=float(hi[-1]),
                            crossed=bool(crossed.size), crossed_at=int(crossed[0]) if crossed.size else None,
                            tau2=float(tau2), alpha=alpha, looks=len(p))
