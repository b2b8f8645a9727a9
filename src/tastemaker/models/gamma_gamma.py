"""Gamma-Gamma (Fader, Hardie & Lee 2005): what a customer spends per transaction.

A customer's transaction values are Gamma(p, nu) with ``nu ~ Gamma(q, v)``; from their mean
value ``m`` over ``x`` transactions the model gives the expected value of their next one,
shrunk towards the population mean the fewer transactions they have. Formulas as in the
``lifetimes`` package's ``GammaGammaFitter``, on scipy. Customers with ``x = 0`` or no value
are left out of the fit (and get the population mean).

>>> rng = np.random.default_rng(1)
>>> x = rng.integers(1, 10, 3000).astype(float)
>>> nu = rng.gamma(3.0, 1 / 20.0, 3000)                      # q=3, v=20
>>> m = np.array([rng.gamma(6.0, 1 / n, int(k)).mean() for n, k in zip(nu, x)])  # p=6
>>> model = GammaGamma().fit(x, m)
>>> [round(v) for v in model.params]               # p and v trade off: p*v/(q-1) is what matters
[5, 3, 24]
>>> float(model.expected_value(np.array([0.0]), np.array([0.0]))[0]) == model.population_mean()
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln


@dataclass
class GammaGamma:
    """``params`` = (p, q, v) once fitted; q must exceed 1 for a finite mean."""

    penalizer: float = 0.0
    params: tuple[float, float, float] | None = None

    def fit(self, x: np.ndarray, m: np.ndarray) -> GammaGamma:
        """Fit on repeat transaction counts ``x`` and mean values ``m`` (rows with x > 0, m > 0)."""
        x, m = np.asarray(x, np.float64), np.asarray(m, np.float64)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        if len(x) < 2:
            raise ValueError("need at least two customers with repeat transactions and a value")

        def nll(log_params: np.ndarray) -> float:
            with np.errstate(all="ignore"):  # overflowing params are the worst fit, not an error
                p, q, v = np.exp(log_params)
                ll = (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
                      + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))
                value = -ll.mean() + self.penalizer * float((np.exp(log_params) ** 2).sum())
            return float(value) if np.isfinite(value) else 1e300

        start = np.log([1.0, 2.0, float(np.mean(m))])
        best = minimize(nll, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10})
        self.params = tuple(float(v) for v in np.exp(best.x))  # type: ignore[assignment]
        return self

    def population_mean(self) -> float:
        """The expected transaction value of a customer we know nothing about."""
        p, q, v = self._fitted()
        return p * v / (q - 1) if q > 1 else float("nan")

    def expected_value(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """E[value of a transaction | x transactions of mean value m] (population mean at x = 0)."""
        p, q, _ = self._fitted()
        x, m = np.asarray(x, np.float64), np.asarray(m, np.float64)
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * self.population_mean() + weight * np.where(x > 0, m, 0.0)

    def _fitted(self) -> tuple[float, float, float]:
        if self.params is None:
            raise ValueError("fit the model first")
        return self.params
