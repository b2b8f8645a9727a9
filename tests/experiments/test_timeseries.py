"""The cumulative-effect curve: looks by exposure time, the two intervals, the sequential summary."""

import doctest
import json

import numpy as np
import pytest

from tastemaker.experiments import timeseries
from tastemaker.experiments.analysis_spec import MetricSpec
from tastemaker.experiments.comparison import compare, prepare
from tastemaker.experiments.timeseries import cumulative_effect, horizon_tau2

from .tables import make_table


def test_looks_grow_and_end_at_the_whole_sample():
    t = make_table(6000, {"a": 0.10, "b": 0.12}, seed=3)
    s = cumulative_effect(t, "conversion", "a", "b", looks=12)
    json.dumps(s)
    assert len(s["ts"]) == 12 and s["ts"] == sorted(s["ts"])
    assert np.all(np.diff(s["n_control"]) >= 0) and np.all(np.diff(s["n_treatment"]) >= 0)
    counts = t.counts()
    assert s["n_control"][-1] == counts["a"] and s["n_treatment"][-1] == counts["b"]
    whole = compare(prepare(t, MetricSpec("conversion")), "a", "b", 0.05)
    assert s["difference"][-1] == pytest.approx(whole.difference, abs=1e-12)
    # the confidence sequence is wider than the naive interval at every look, and only narrows
    for lo, hi, clo, chi in zip(s["ci_low"], s["ci_high"], s["cs_low"], s["cs_high"]):
        assert clo <= lo and chi >= hi
    assert np.all(np.diff(s["cs_high"]) <= 1e-15) and np.all(np.diff(s["p_sequential"]) <= 0)


def test_planned_horizon_fixes_tau2_and_the_summary_agrees():
    t = make_table(6000, {"a": 0.10, "b": 0.10}, seed=4)
    s = cumulative_effect(t, "conversion", "a", "b", looks=10, planned_users=50_000)
    seq = s["sequential"]
    assert seq["looks"] == 10 and seq["p_value"] == s["p_sequential"][-1]
    assert seq["crossed"] == (seq["p_value"] < 0.05)
    assert horizon_tau2(0.01, 100, 1000, 0.05) == pytest.approx(horizon_tau2(0.001, 100, None, 0.05))
    with pytest.raises(ValueError, match="no users"):
        cumulative_effect(t, "conversion", "zz", "yy")


def test_docstring_examples():
    assert doctest.testmod(timeseries).failed == 0
