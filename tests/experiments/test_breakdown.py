"""Per-segment breakdown rows."""

import doctest

import numpy as np
import pytest

from tastemaker.experiments import breakdown
from tastemaker.experiments.analysis_spec import MetricSpec
from tastemaker.experiments.breakdown import segment_breakdown
from tastemaker.experiments.metrics_table import UserMetrics

from .tables import make_table


def test_one_row_per_segment_and_treatment_with_its_users():
    t = make_table(8000, {"a": 0.1, "b": 0.1, "c": 0.15}, seed=5, segments=True)
    rows = segment_breakdown(t, MetricSpec("conversion"), "device", "a")
    assert [(r["segment"], r["treatment"]) for r in rows] == [
        ("desktop", "b"), ("desktop", "c"), ("mobile", "b"), ("mobile", "c")]
    for r in rows:
        part = t.subset((t.segments["device"] == r["segment"]))
        assert r["n_control"] == part.counts()["a"] and r["n_treatment"] == part.counts()[r["treatment"]]
        assert r["effect"]["n_control"] == r["n_control"]


def test_a_segment_too_small_says_why():
    t = UserMetrics(np.arange(6), np.array(["a", "b", "a", "b", "a", "b"]), np.arange(6.0),
                    {"revenue": np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.5])},
                    segments={"dev": np.array(["p", "p", "p", "p", "q", "q"])})
    rows = segment_breakdown(t, MetricSpec("revenue"), "dev", "a")
    assert rows[0]["effect"] is not None and rows[1]["effect"] is None and "at least 2" in rows[1]["note"]
    with pytest.raises(KeyError, match="no segment column"):
        segment_breakdown(t, MetricSpec("revenue"), "country", "a")


def test_docstring_examples():
    assert doctest.testmod(breakdown).failed == 0
