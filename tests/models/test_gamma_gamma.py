"""models.gamma_gamma: fitted on simulated spend, shrinks few-transaction customers to the mean."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from tastemaker.models import gamma_gamma
from tastemaker.models.gamma_gamma import GammaGamma


def test_doctest():
    assert doctest.testmod(gamma_gamma).failed == 0


def test_population_mean_and_shrinkage():
    rng = np.random.default_rng(2)
    x = rng.integers(1, 12, 4000).astype(float)
    nu = rng.gamma(4.0, 1 / 30.0, 4000)
    m = np.array([rng.gamma(5.0, 1 / n, int(k)).mean() for n, k in zip(nu, x)])
    model = GammaGamma().fit(x, m)
    # the true mean value is p * v / (q - 1) = 5 * 30 / 3 = 50; 4000 customers: within 10%
    assert model.population_mean() == pytest.approx(50.0, rel=0.1)
    one, many = model.expected_value(np.array([1.0, 50.0]), np.array([200.0, 200.0]))
    assert model.population_mean() < one < many < 200.0  # more transactions: closer to their own mean


def test_needs_customers_with_values():
    with pytest.raises(ValueError):
        GammaGamma().fit(np.array([0.0, 3.0]), np.array([5.0, 0.0]))
    with pytest.raises(ValueError):
        GammaGamma().population_mean()
