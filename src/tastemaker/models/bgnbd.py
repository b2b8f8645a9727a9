"""BG/NBD (Fader, Hardie & Lee 2005): how often a customer transacts and when they drop out.

Each customer transacts as a Poisson process with rate ``lambda ~ Gamma(r, alpha)`` and,
after each transaction, drops out for good with probability ``p ~ Beta(a, b)``. From a
customer's summary ``(x, t_x, T)`` (repeat transactions, time of the last one and age, all
from the first transaction) the model gives the probability they are still alive, the
expected transactions in the next ``t`` and the probability of none (churn). The formulas
are those of the ``lifetimes`` package (its ``BetaGeoFitter``), written here on scipy: the
package itself is unmaintained. Parameters are fitted by maximum likelihood over log-params.

>>> rng = np.random.default_rng(0)
>>> x, t_x, T = simulate(rng, 4000, r=0.8, alpha=6.0, a=0.7, b=2.5, T=60.0)
>>> model = BetaGeo().fit(x, t_x, T)
>>> [round(v, 1) for v in model.params]              # the truth is (0.8, 6.0, 0.7, 2.5)
[0.8, 5.9, 0.7, 2.6]
>>> bool(model.p_alive(np.array([0.0]), np.array([0.0]), np.array([60.0]))[0] == 1.0)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1


def _loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


@dataclass
class BetaGeo:
    """A BG/NBD model; ``params`` = (r, alpha, a, b) once fitted. ``penalizer`` adds
    ``penalizer * sum(params ** 2)`` to the negative log-likelihood (as ``lifetimes`` does):
    small data sets otherwise drift to extreme ``a, b``."""

    penalizer: float = 0.0
    params: tuple[float, float, float, float] | None = None

    def fit(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None) -> BetaGeo:
        """Fit on customer summaries (arrays of equal length, T > 0, 0 <= t_x <= T)."""
        x, t_x, T = (np.asarray(v, np.float64) for v in (x, t_x, T))
        if len(x) == 0 or np.any(T <= 0) or np.any(t_x > T) or np.any(x < 0):
            raise ValueError("need at least one customer, T > 0, 0 <= t_x <= T and x >= 0")
        w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64)
        total = w.sum()

        def nll(log_params: np.ndarray) -> float:
            with np.errstate(all="ignore"):  # the simplex may wander to overflowing params: worst, not an error
                params = np.exp(log_params)
                value = -(w * _loglik(params, x, t_x, T)).sum() / total + self.penalizer * float((params ** 2).sum())
            return float(value) if np.isfinite(value) else 1e300

        best = minimize(nll, np.zeros(4), method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10})
        self.params = tuple(float(v) for v in np.exp(best.x))  # type: ignore[assignment]
        return self

    def _fitted(self) -> tuple[float, float, float, float]:
        if self.params is None:
            raise ValueError("fit the model first")
        return self.params

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(still alive at T | x, t_x, T)."""
        r, alpha, a, b = self._fitted()
        x = np.asarray(x, np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # b -> 0 fits: a / 0 means gone
            ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + np.asarray(t_x, np.float64))))
            odds = np.where(x > 0, a / (b + np.maximum(x, 1) - 1), 0.0) * ratio
            return np.nan_to_num(1.0 / (1.0 + odds), nan=0.0)

    def expected_transactions(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """E[transactions in (T, T + t] | x, t_x, T]."""
        r, alpha, a, b = self._fitted()
        x, T = np.asarray(x, np.float64), np.asarray(T, np.float64)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        return num * self.p_alive(x, t_x, T)

    def p_none(self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(no transaction in (T, T + t] | x, t_x, T): dead, or alive and silent for ``t``
        (alive, the rate's posterior is Gamma(r + x, alpha + T); dropping out needs a transaction)."""
        r, alpha, _, _ = self._fitted()
        x, T = np.asarray(x, np.float64), np.asarray(T, np.float64)
        alive = self.p_alive(x, t_x, T)
        silent = ((alpha + T) / (alpha + T + t)) ** (r + x)
        return 1.0 - alive * (1.0 - silent)


def simulate(rng: np.random.Generator, n: int, r: float, alpha: float, a: float, b: float,
             T: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` customers drawn from the BG/NBD process over ``(0, T]``: (x, t_x, T) arrays."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > T:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x, np.full(n, T)


def summaries(first_ts: np.ndarray, last_ts: np.ndarray, active_days: np.ndarray, now: float,
              unit_s: float = 86_400.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in ``unit_s`` units from activity totals: the first active day is the first
    transaction, ``x`` the repeat ones, ``T`` the age at ``now`` (at least ``t_x``, above 0).

    >>> summaries(np.array([0.0]), np.array([86_400.0 * 3]), np.array([4.0]), now=86_400.0 * 10)
    (array([3.]), array([3.]), array([10.]))
    """
    x = np.maximum(np.asarray(active_days, np.float64) - 1.0, 0.0)
    t_x = np.maximum((np.asarray(last_ts, np.float64) - first_ts) / unit_s, 0.0)
    T = np.maximum(np.maximum((now - np.asarray(first_ts, np.float64)) / unit_s, t_x), 1e-3)
    return x, t_x, T
