"""CUPED: Controlled-experiment Using Pre-Experiment Data (Deng, Xu, Kohavi, Walker 2013).

Each user's outcome ``y`` is replaced by ``y - theta * (x - mean(x))`` where ``x`` is the same
user's pre-period covariate (for example revenue in the weeks before the experiment). Because
``x`` was measured before assignment it is independent of the variant, so the adjusted means
keep their expectation (the difference between arms is unbiased) while the variance explained
by ``x`` is removed: ``var(y_adj) = var(y) * (1 - rho^2)`` for one covariate.

``theta`` is the pooled within-variant regression slope ``S_xy / S_xx`` (covariances summed
over variants after subtracting each variant's own means), so a treatment effect on ``y``
cannot leak into it; with several covariates it is the least-squares solution
``S_xx^-1 S_xy``. ``variance_reduction`` is ``1 - var(y_adj) / var(y)``, both pooled within
variants.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=4000); y = x + rng.normal(size=4000)   # rho^2 = 0.5
    >>> r = cuped_adjust(y, x, groups=np.arange(4000) % 2)
    >>> float(round(r.theta[0], 1)), 0.45 < r.variance_reduction < 0.55
    (1.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CupedResult:
    adjusted: np.ndarray  # per-user adjusted outcome, same order as the input
    theta: np.ndarray  # one coefficient per covariate
    variance_reduction: float  # 1 - pooled var(adjusted) / pooled var(original)

    def to_dict(self) -> dict:
        return {"theta": [float(t) for t in self.theta],
                "variance_reduction": float(self.variance_reduction)}


def _centered_within(a: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``a`` minus its group's mean (rows are users; works for 1-D and 2-D ``a``)."""
    _, inv, counts = np.unique(groups, return_inverse=True, return_counts=True)
    sums = np.zeros((len(counts),) + a.shape[1:])
    np.add.at(sums, inv, a)
    return a - (sums / counts.reshape((-1,) + (1,) * (a.ndim - 1)))[inv]


def cuped_adjust(y, x, groups=None) -> CupedResult:
    """Adjust ``y`` (n users) with covariates ``x`` (n, or n by k) pooled within ``groups``.

    ``groups`` is each user's variant (None: one group). A covariate with no variance leaves
    ``y`` unchanged (theta 0).
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    x2 = x.reshape(len(x), -1) if x.ndim == 1 else x
    if y.ndim != 1 or x2.ndim != 2 or len(x2) != len(y):
        raise ValueError(f"need y of n users and x of n rows, got {y.shape} and {x.shape}")
    if not (np.isfinite(y).all() and np.isfinite(x2).all()):
        raise ValueError("CUPED inputs must be finite (no NaN or infinity)")
    if len(y) < 3:
        raise ValueError("CUPED needs at least 3 users")
    g = np.zeros(len(y), np.int64) if groups is None else np.asarray(groups)
    yc = _centered_within(y, g)
    xc = _centered_within(x2, g)
    sxx = xc.T @ xc
    sxy = xc.T @ yc
    theta, *_ = np.linalg.lstsq(sxx, sxy, rcond=None)  # min-norm: constant covariates get 0
    adjusted = y - (x2 - x2.mean(axis=0)) @ theta
    ss_y = float(yc @ yc)
    resid = yc - xc @ theta
    reduction = 0.0 if ss_y == 0 else 1.0 - float(resid @ resid) / ss_y
    return CupedResult(adjusted=adjusted, theta=np.atleast_1d(theta), variance_reduction=reduction)
