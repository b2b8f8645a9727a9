"""mSPRT with a normal mixture: the closed form, the boundary, and validity under peeking."""

import doctest
import math

import numpy as np
import pytest
from scipy import integrate, stats

from tastemaker.experiments.statistics import sequential
from tastemaker.experiments.statistics.sequential import (
    half_width,
    log_mixture_lr,
    msprt_normal,
    optimal_tau2,
    running,
)


@pytest.mark.parametrize("d,v,tau2", [(0.3, 0.01, 0.05), (-1.0, 0.5, 2.0), (0.0, 0.2, 0.1)])
def test_closed_form_equals_the_mixture_integral(d, v, tau2):
    # Lambda = integral N(d; delta, V) / N(d; 0, V) * N(delta; 0, tau2) d delta (its definition).
    sd = math.sqrt(v)
    val, _ = integrate.quad(lambda t: stats.norm.pdf(d, t, sd) * stats.norm.pdf(t, 0, math.sqrt(tau2)),
                            -50, 50, points=[0.0, d], limit=200)
    assert math.isclose(float(log_mixture_lr(d, v, tau2)), math.log(val / stats.norm.pdf(d, 0, sd)), abs_tol=1e-7)


def test_confidence_sequence_ends_are_where_lambda_is_one_over_alpha():
    d, v, tau2 = 0.4, 0.02, 0.1
    hw = float(half_width(v, tau2, 0.05))
    for end in (d - hw, d + hw):
        assert math.isclose(float(log_mixture_lr(d, v, tau2, delta0=end)), math.log(20), abs_tol=1e-9)


def test_optimal_tau2_minimises_the_half_width():
    v = 0.003
    best = optimal_tau2(v, 0.05)
    grid = np.geomspace(best / 100, best * 100, 2001)
    assert float(half_width(v, best)) <= float(half_width(v, grid).min()) + 1e-12
    assert 2.9 < float(half_width(v, best)) / math.sqrt(v) < 3.2  # wider than 1.96: the price of peeking


def test_running_minimum_and_intersection_over_looks():
    p, lo, hi = running([0.5, 0.0, 0.6], [0.01, 0.01, 0.01], tau2=0.05)
    assert p[1] == p[0] and p[2] <= p[1]  # the p-value never grows
    assert lo[1] >= lo[0] and hi[2] <= hi[1]  # the interval never widens
    p, lo, hi = running([np.nan, 0.1], [0.0, 0.01], tau2=0.05)  # an empty first look carries nothing
    assert p[0] == 1.0 and lo[0] == -np.inf and np.isfinite(lo[1])


def test_peeking_after_every_batch_keeps_the_false_positive_rate_below_alpha():
    # 4,000 A/A experiments, 100 looks each: the fixed-horizon z-test read at every look
    # is wrong often (about 4-5x alpha); the mSPRT stays below alpha.
    rng = np.random.default_rng(11)
    n_exp, looks, batch = 4000, 100, 50
    d_batches = rng.normal(0, math.sqrt(2 / batch), (n_exp, looks))  # unit-variance users, two arms
    n = batch * np.arange(1, looks + 1)
    diff = np.cumsum(d_batches, axis=1) / np.arange(1, looks + 1)
    var = 2.0 / n
    tau2 = optimal_tau2(var[-1])
    p_seq = np.exp(-log_mixture_lr(diff, var, tau2)).min(axis=1)
    naive = (np.abs(diff / np.sqrt(var)) > stats.norm.ppf(0.975)).any(axis=1)
    fpr = (p_seq < 0.05).mean()
    assert fpr <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / n_exp)
    assert naive.mean() > 0.15


def test_summary_and_bad_settings():
    r = msprt_normal([], [], tau2=1.0)
    assert r.looks == 0 and r.p_value == 1.0 and r.to_dict()["ci_low"] is None
    with pytest.raises(ValueError, match="tau2"):
        msprt_normal([0.1], [0.1], tau2=0.0)
    with pytest.raises(ValueError, match="variance"):
        optimal_tau2(0.0)


def test_docstring_examples():
    assert doctest.testmod(sequential).failed == 0
