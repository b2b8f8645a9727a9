"""models.bgnbd: BG/NBD fitted on data simulated from the model recovers it; predictions."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from tastemaker.models import bgnbd
from tastemaker.models.bgnbd import BetaGeo, simulate


def test_doctest():
    assert doctest.testmod(bgnbd).failed == 0


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    x, t_x, T = simulate(rng, 3000, r=0.5, alpha=4.0, a=0.9, b=3.0, T=90.0)
    return BetaGeo().fit(x, t_x, T), (x, t_x, T)


def test_recovers_the_simulated_parameters(fitted):
    model, _ = fitted
    # 3000 customers: maximum likelihood lands within ~20% of the truth (a and b covary)
    assert np.allclose(model.params, (0.5, 4.0, 0.9, 3.0), rtol=0.25)


def test_predictions_behave(fitted):
    model, _ = fitted
    x, t_x, T = np.array([5.0, 5.0, 0.0]), np.array([89.0, 10.0, 0.0]), np.array([90.0, 90.0, 90.0])
    alive = model.p_alive(x, t_x, T)
    assert alive[0] > alive[1] and alive[2] == 1.0  # silent for 80 days after 5 purchases: likely gone
    none = model.p_none(30.0, x, t_x, T)
    assert np.all((none >= 0) & (none <= 1)) and none[1] > none[0]
    assert np.all(model.expected_transactions(30.0, x, t_x, T) >= 0)
    assert model.p_none(0.0, x, t_x, T) == pytest.approx(1 - 0 * alive)  # no time, no transaction


def test_p_none_is_calibrated_on_the_simulation():
    """Customers simulated to day 120, observed to day 90: the mean predicted chance of no
    transaction in (90, 120] matches the share that had none."""
    rng = np.random.default_rng(5)
    n = 3000
    lam, p = rng.gamma(0.5, 1 / 4.0, n), rng.beta(0.9, 3.0, n)
    x, t_x, later = np.zeros(n), np.zeros(n), np.zeros(n, bool)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > 120.0:
                break
            if t > 90.0:
                later[i] = True
                break
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < p[i]:
                break
    T = np.full(n, 90.0)
    predicted = BetaGeo().fit(x, t_x, T).p_none(30.0, x, t_x, T)
    # 3000 Bernoulli outcomes: the observed share has a standard error of ~0.009
    assert predicted.mean() == pytest.approx(1 - later.mean(), abs=0.03)


def test_bad_input_and_unfitted():
    with pytest.raises(ValueError):
        BetaGeo().fit(np.array([1.0]), np.array([5.0]), np.array([4.0]))  # t_x > T
    with pytest.raises(ValueError):
        BetaGeo().p_alive(np.zeros(1), np.zeros(1), np.ones(1))
