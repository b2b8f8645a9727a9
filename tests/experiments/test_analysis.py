"""Analysis verdicts on constructed data with known truths."""

import doctest
import json

import numpy as np
import pytest

from tastemaker.experiments import analysis
from tastemaker.experiments.analysis import analyze
from tastemaker.experiments.analysis_spec import AnalysisSpec, MetricSpec

from .tables import make_table


def _spec(**kw):
    return AnalysisSpec(**{"control": "a", "primary": MetricSpec("conversion"), **kw})


def test_a_clear_winner_ships_the_best_of_two():
    t = make_table(30_000, {"a": 0.10, "b": 0.115, "c": 0.13}, seed=1)
    r = analyze(t, _spec(guardrails=(MetricSpec("revenue", threshold=0.05),)))
    assert r.verdict == "ship" and r.winner == "c"
    assert "ship c" in r.reason and "conversion" in r.reason
    rows = {row["variant"]: row for row in r.variants}
    assert rows["c"]["decision"] == "better" and rows["c"]["guardrails"][0]["status"] == "passed"
    assert rows["c"]["metrics"]["conversion"]["prob_beat_control"] > 0.99
    assert rows["c"]["p_value_adjusted"] >= rows["c"]["p_value_deciding"]  # Holm never lowers a p-value
    json.dumps(r.to_dict())


def test_no_effect_is_no_difference_yet():
    r = analyze(make_table(10_000, {"a": 0.1, "b": 0.1}, seed=2), _spec())
    assert r.verdict == "no_difference_yet" and r.winner is None and "no significant difference" in r.reason


def test_srm_invalidates_everything():
    t = make_table(20_000, {"a": 0.10, "b": 0.15}, shares={"a": 0.55, "b": 0.45}, seed=3)
    r = analyze(t, _spec(shares={"a": 0.5, "b": 0.5}))
    assert r.verdict == "invalid_srm" and r.srm["flagged"] and "sample-ratio mismatch" in r.reason
    ok = analyze(t, _spec(shares={"a": 0.55, "b": 0.45}))  # the same split, as configured
    assert not ok.srm["flagged"] and ok.verdict == "ship"


def test_guardrail_breach_stops_even_a_winner():
    t = make_table(30_000, {"a": 0.10, "b": 0.13}, revenue_mult={"b": 0.85}, seed=4)
    r = analyze(t, _spec(guardrails=(MetricSpec("revenue", threshold=0.02),
                                     MetricSpec("latency_p99_ms", "decrease", 50.0))))
    assert r.verdict == "stop_guardrail" and "revenue" in r.reason
    statuses = {g["metric"]: g["status"] for g in r.variants[0]["guardrails"]}
    assert statuses == {"revenue": "breached", "latency_p99_ms": "not_measured"}
    assert r.variants[0]["metrics"]["revenue"]["cuped"]["variance_reduction"] > 0.2


def test_lower_is_better_metrics():
    # 'conversion' read as a bounce rate: b lowers it (good), c raises it (a breach when a guardrail)
    t = make_table(30_000, {"a": 0.10, "b": 0.08, "c": 0.10}, seed=5)
    r = analyze(t, _spec(primary=MetricSpec("conversion", "decrease")))
    assert r.verdict == "ship" and r.winner == "b"
    t2 = make_table(30_000, {"a": 0.10, "b": 0.10}, seed=5)
    rng = np.random.default_rng(6)
    t2.metrics["bounce"] = (rng.random(30_000) < np.where(t2.variant == "b", 0.13, 0.10)) * 1.0
    r2 = analyze(t2, _spec(guardrails=(MetricSpec("bounce", "decrease", 0.05),)))
    assert r2.verdict == "stop_guardrail" and "higher is worse" in r2.reason


def test_every_variant_worse_keeps_control():
    t = make_table(30_000, {"a": 0.13, "b": 0.10, "c": 0.10}, seed=7)
    r = analyze(t, _spec())
    assert r.verdict == "keep_control" and all(row["decision"] == "worse" for row in r.variants)


def test_fixed_horizon_waits_for_the_planned_size():
    t = make_table(20_000, {"a": 0.10, "b": 0.13}, seed=8)
    early = analyze(t, _spec(sequential=False, planned_users=50_000))
    assert early.verdict == "no_difference_yet" and "waiting for 50000 users" in early.reason
    assert early.variants[0]["metrics"]["conversion"]["effect"]["p_value"] < 0.001
    done = analyze(t, _spec(sequential=False, planned_users=5_000))
    assert done.verdict == "ship" and done.variants[0]["metrics"]["conversion"]["sequential"] is None
    assert set(done.timeseries) == {"b"}  # the curve is still drawn for the report


def test_segments_and_timeseries_are_included():
    t = make_table(8_000, {"a": 0.10, "b": 0.12}, seed=9, segments=True)
    r = analyze(t, _spec(segments=("device",), looks=8))
    assert set(r.timeseries) == {"b"} and len(r.timeseries["b"]["ts"]) == 8
    assert {row["segment"] for row in r.segments["device"]} == {"desktop", "mobile"}
    assert r.summary["a"]["users"] + r.summary["b"]["users"] == 8_000


def test_tables_that_do_not_fit_the_spec_are_refused():
    t = make_table(1000, {"a": 0.1, "b": 0.1}, seed=10)
    with pytest.raises(ValueError, match=r"variants \['b'\]"):
        analyze(t, _spec(shares={"a": 0.5, "x": 0.5}))
    with pytest.raises(ValueError, match="control variant 'zz'"):
        analyze(t, _spec(control="zz"))
    with pytest.raises(ValueError, match=r"no metric \['ctr'\]"):
        analyze(t, _spec(primary=MetricSpec("ctr")))


def test_a_variant_without_users_is_no_difference_yet():
    t = make_table(1000, {"a": 0.1, "b": 0.1}, seed=11)
    r = analyze(t, _spec(shares={"a": 0.5, "b": 0.49, "c": 0.01}))
    row = next(x for x in r.variants if x["variant"] == "c")
    assert row["metrics"]["conversion"]["effect"] is None and r.verdict == "no_difference_yet"


def test_docstring_examples():
    assert doctest.testmod(analysis).failed == 0
