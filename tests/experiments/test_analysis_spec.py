"""Analysis settings: from dicts, from an experiment's configuration, and refusals."""

import doctest

import pytest

from tastemaker.experiments import analysis_spec
from tastemaker.experiments.analysis_spec import AnalysisSpec, MetricSpec
from tastemaker.experiments.spec import experiment_from_json


def test_from_experiment_takes_shares_metrics_and_alpha():
    e = experiment_from_json({"id": "t", "placements": ["home"], "alpha": 0.01,
                              "variants": [{"name": "a", "share": 0.2}, {"name": "control", "share": 0.6}],
                              "primary_metric": {"metric": "conversion"},
                              "guardrails": [{"metric": "revenue", "threshold": 0.02},
                                             {"metric": "latency_p99_ms", "threshold": 50}]})
    s = AnalysisSpec.from_experiment(e, planned_users=1000)
    assert s.control == "control" and s.shares == {"a": 0.2, "control": 0.6} and s.alpha == 0.01
    assert s.primary == MetricSpec("conversion")
    assert s.guardrails[0] == MetricSpec("revenue", "increase", 0.02)
    assert s.guardrails[1].direction == "decrease" and s.planned_users == 1000
    assert [m.name for m in s.metrics()] == ["conversion", "revenue", "latency_p99_ms"]


def test_from_dict_and_refusals():
    s = AnalysisSpec.from_dict({"control": "c", "primary": {"name": "ctr", "kind": "mean"},
                                "secondary": ["revenue"], "sequential": False})
    assert s.primary.kind == "mean" and s.secondary == (MetricSpec("revenue"),) and not s.sequential
    with pytest.raises(ValueError, match="unknown analysis settings"):
        AnalysisSpec.from_dict({"control": "c", "primary": "x", "colour": 1})
    with pytest.raises(ValueError, match="needs 'control'"):
        AnalysisSpec.from_dict({"primary": "x"})
    with pytest.raises(ValueError, match="direction"):
        MetricSpec("x", direction="up")
    with pytest.raises(ValueError, match="kind"):
        MetricSpec("x", kind="ratio")
    with pytest.raises(ValueError, match="alpha"):
        AnalysisSpec("c", MetricSpec("x"), alpha=0)
    with pytest.raises(ValueError, match="correction"):
        AnalysisSpec("c", MetricSpec("x"), correction="sidak")
    with pytest.raises(ValueError, match="shares"):
        AnalysisSpec("c", MetricSpec("x"), shares={"c": 0.5, "b": 0.0})


def test_docstring_examples():
    assert doctest.testmod(analysis_spec).failed == 0
