"""Constructed per-user tables with known truths, shared by the analysis tests."""

from __future__ import annotations

import numpy as np

from tastemaker.experiments.metrics_table import UserMetrics

DAY = 86_400.0
T0 = 1_760_000_000.0


def make_table(n: int, conversion: dict[str, float], revenue_mult: dict[str, float] | None = None,
               shares: dict[str, float] | None = None, seed: int = 0, pre: bool = True,
               segments: bool = False) -> UserMetrics:
    """``n`` users split by ``shares`` (equal by default), a 0/1 ``conversion`` with the given
    rate per variant, ``revenue`` (gamma, correlated with ``pre_revenue`` by a per-user
    propensity) scaled by ``revenue_mult`` per variant, exposures over 14 days."""
    rng = np.random.default_rng(seed)
    names = sorted(conversion)
    w = np.array([(shares or {}).get(v, 1.0) for v in names])
    variant = np.array(names)[rng.choice(len(names), n, p=w / w.sum())]
    propensity = rng.gamma(2.0, 5.0, n)  # a user's spend level, carried across periods
    mult = np.array([(revenue_mult or {}).get(v, 1.0) for v in variant])
    cols = {"conversion": (rng.random(n) < np.array([conversion[v] for v in variant])) * 1.0,
            "revenue": rng.poisson(propensity * mult) * 1.0}
    covs = {"pre_revenue": rng.poisson(propensity) * 1.0} if pre else {}
    segs = {"device": rng.choice(["desktop", "mobile"], n)} if segments else {}
    return UserMetrics(np.array([f"u{i}" for i in range(n)]), variant, T0 + rng.uniform(0, 14 * DAY, n),
                       cols, covs, segs)
