"""Preparing a metric (kind, CUPED) and comparing two arms the same way everywhere."""

import doctest

import numpy as np

from tastemaker.experiments import comparison
from tastemaker.experiments.analysis_spec import MetricSpec
from tastemaker.experiments.comparison import compare, infer_kind, prepare, prob_beat
from tastemaker.experiments.statistics.bayes import prob_beat_control_proportions

from .tables import make_table


def test_kind_inference():
    assert infer_kind(np.array([0.0, 1.0, 1.0])) == "proportion"
    assert infer_kind(np.array([0.0, 0.5])) == "mean" and infer_kind(np.array([])) == "mean"


def test_proportion_uses_the_z_test_and_beta_binomial():
    t = make_table(4000, {"a": 0.10, "b": 0.13}, seed=1)
    p = prepare(t, MetricSpec("conversion"))
    assert p.kind == "proportion" and p.cuped is None  # no pre_conversion covariate
    e = compare(p, "a", "b", 0.05)
    assert e.method == "two-proportion z-test"
    c, b = t.values("conversion", "a"), t.values("conversion", "b")
    assert prob_beat(p, "a", "b") == prob_beat_control_proportions(int(c.sum()), c.size, int(b.sum()), b.size)
    lower = prepare(t, MetricSpec("conversion", direction="decrease"))
    assert abs(prob_beat(lower, "a", "b") + prob_beat(p, "a", "b") - 1) < 1e-9


def test_cuped_narrows_the_interval_of_a_correlated_mean():
    t = make_table(6000, {"a": 0.1, "b": 0.1}, revenue_mult={"b": 1.05}, seed=2)
    raw = compare(prepare(t, MetricSpec("revenue"), use_cuped=False), "a", "b", 0.05)
    p = prepare(t, MetricSpec("revenue"))
    adj = compare(p, "a", "b", 0.05)
    assert p.cuped is not None and p.cuped.variance_reduction > 0.3
    assert adj.ci_high - adj.ci_low < 0.85 * (raw.ci_high - raw.ci_low)
    assert "Welch" in adj.method and np.array_equal(p.arm("a", adjusted=False), t.values("revenue", "a"))


def test_docstring_examples():
    assert doctest.testmod(comparison).failed == 0
