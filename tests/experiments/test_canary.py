"""experiments.canary: the canary experiment's design and the guardrail checks."""

from __future__ import annotations

from tastemaker.experiments.canary import CanaryMonitor, canary_experiment, monitored
from tastemaker.experiments.spec import experiment_from_json


def test_the_canary_is_control_at_the_serving_version_and_the_candidate_at_its_share():
    e = canary_experiment(5, 0.05, serving_version=None, now=100.0)
    assert e.id == "canary-v5-100000" and e.kind == "canary" and e.placements == ("*",) and e.status == "running"
    assert [(v.name, v.propensity, v.override.model_version) for v in e.variants] == [("control", 0.95, None), ("candidate", 0.05, 5)]
    assert monitored(e) and e.exclusion_group == "model-canary" and e.buckets == 10_000


def test_in_process_budgets_need_enough_requests():
    e = canary_experiment(5, 0.5, 4, max_error_rate=0.05, latency_budget_ms=20.0)
    m = CanaryMonitor(min_requests=100)
    control, candidate = e.variants
    for k in range(99):
        m.record(e, candidate, 0.030, error=False)  # 30 ms: over budget, but only 99 requests
        m.record(e, control, 0.001, error=False)
    assert m.check(e) is None
    m.record(e, candidate, 0.030, error=False)
    assert m.check(e).startswith("candidate: latency_p99_ms 30 above its budget 20")
    assert m.metrics(e)["control"]["latency_p99_ms"] == 1.0
    m.forget(e.id)
    assert m.metrics(e) == {}


def test_errors_against_the_budget():
    e = canary_experiment(5, 0.5, 4, max_error_rate=0.05)
    m = CanaryMonitor(min_requests=10)
    for k in range(100):
        m.record(e, e.variants[1], 0.001, error=k < 5)  # 5%: at the budget, not above
    assert m.check(e) is None
    m.record(e, e.variants[1], None, error=True)
    assert "error_rate 0.0594 above its budget 0.05 (101 requests)" in m.check(e)


def test_served_metrics_compare_with_control_in_the_good_direction():
    e = experiment_from_json({"id": "x", "placements": ["home"], "status": "running", "variants": [
        {"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}], "guardrails": [
        {"metric": "ctr", "threshold": 0.05}, {"metric": "bounce", "direction": "decrease", "threshold": 0.1}]})
    m = CanaryMonitor()
    assert m.check(e, {"a": {"ctr": 0.10}, "b": {"ctr": 0.096}}) is None  # 4% worse: tolerated
    assert "ctr 0.094 against control's 0.1" in m.check(e, {"a": {"ctr": 0.10}, "b": {"ctr": 0.094}})
    assert m.check(e, {"a": {"bounce": 0.5}, "b": {"bounce": 0.54}}) is None
    assert m.check(e, {"a": {"bounce": 0.5}, "b": {"bounce": 0.56}}).startswith("b: bounce")
    assert m.check(e, {"b": {"ctr": 0.0}}) is None  # no control figure: nothing to judge
    assert not monitored(e)


def _results(e, candidate_rate, n=400, seed=0):
    """A results document's analysis of n users per arm, control clicking half its lists."""
    import numpy as np

    from tastemaker.experiments.analysis import analyze
    from tastemaker.experiments.analysis_spec import AnalysisSpec
    from tastemaker.experiments.metrics_table import UserMetrics

    rng = np.random.default_rng(seed)
    arm = np.arange(2 * n) % 2
    ctr = (rng.random(2 * n) < np.where(arm == 1, candidate_rate, 0.5)) * 1.0
    table = UserMetrics(np.arange(2 * n), np.where(arm == 1, "candidate", "control"), np.arange(2 * n) * 1.0,
                        {"ctr": ctr})
    return {"analysis": analyze(table, AnalysisSpec.from_experiment(e)).to_dict()}


def test_served_ctr_breach_is_judged_by_the_analysis():
    from tastemaker.experiments.canary import served_metrics

    e = canary_experiment(5, 0.5, 4)
    assert [g.metric for g in e.guardrails] == ["error_rate", "latency_p99_ms", "ctr"]
    m = CanaryMonitor()
    worse = served_metrics(_results(e, 0.1))
    assert worse["candidate"]["judged"]["ctr"]["status"] == "breached"
    reason = m.check(e, worse)
    assert reason.startswith("candidate: served metric: ctr") and "(400 users)" in reason
    same = served_metrics(_results(e, 0.5))
    assert same["candidate"]["judged"]["ctr"]["status"] != "breached" and m.check(e, same) is None
    assert served_metrics({"analysis": None}) == {}
