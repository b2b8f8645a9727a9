"""Experiment documents: every field validated, errors named by JSON pointer, all at once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tastemaker.experiments.spec import (BUCKETS, Experiment, experiment_from_json, transition, with_shares)
from tastemaker.schema.errors import ValidationFailed

FULL = {
    "id": "home-blend", "name": "More trending on home", "description": "d", "placements": ["home", "email"],
    "variants": [
        {"name": "control", "share": 0.45},
        {"name": "treatment", "share": 0.45, "override": {
            "model_version": 3, "blend": {"trending": 0.6, "user_model": {"weight": 0.2, "n": 50}, "covisitation": {"n": 80}},
            "ranker": "ltr", "rules": [{"boost": "price < 20", "factor": 1.2}],
            "diversity": {"lambda": 0.3, "method": "swap"}}}],
    "layer": "sources", "exclusion_group": "home-tests", "offset": 1000,
    "population": {"segments": ["buyer"], "context": {"device": "mobile", "channel": ["web", "app"]}},
    "primary_metric": {"metric": "ctr"},
    "guardrails": [{"metric": "revenue", "threshold": 0.02}, {"metric": "latency_p99_ms", "threshold": 50}],
    "alpha": 0.01, "start": "2026-12-01T00:00:00Z", "stop": 1796169600, "salt": "s1",
}


def fields(doc) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as exc:
        experiment_from_json(doc)
    assert exc.value.status == 422
    return {e.field: e.reason for e in exc.value.errors}


def test_a_full_document_round_trips():
    e = experiment_from_json(FULL)
    assert e.placements == ("home", "email") and e.layer == "sources" and e.offset == 1000
    t = e.variant("treatment").override
    assert t.model_version == 3 and t.ranker == "ltr" and t.rules == ({"boost": "price < 20", "factor": 1.2},)
    assert t.blend == {"trending": {"weight": 0.6}, "user_model": {"weight": 0.2, "n": 50}, "covisitation": {"n": 80}}
    assert t.diversity == {"lambda": 0.3, "by": "categories", "calibration": 0.0, "method": "swap"}
    assert not e.variant("control").override
    assert e.population.context == {"device": frozenset({"mobile"}), "channel": frozenset({"web", "app"})}
    assert e.guardrails[0].direction == "increase" and e.guardrails[1].direction == "decrease"
    assert e.start == 1796083200.0 and e.stop == 1796169600 and e.salt == "s1"
    assert e.bucket_salt == "sources/group:home-tests"
    assert experiment_from_json(e.to_json()) == e


def test_defaults():
    e = experiment_from_json({"id": "x", "placements": ["home"], "variants": [{"name": "a", "share": 0.5},
                                                                              {"name": "b", "share": 0.5}]})
    assert (e.status, e.kind, e.layer, e.salt, e.alpha, e.primary_metric.metric) == ("draft", "ab", "default", "default:x", 0.05, "ctr")
    assert e.bucket_salt == "default:x" and e.buckets == BUCKETS


def test_every_error_is_named_at_once():
    bad = {**FULL, "id": "Bad Id", "placements": [], "alpha": 2, "stop": 100, "start": 200, "status": "paused", "extra": 1,
           "variants": [{"name": "a", "share": 0.7, "override": {"ranker": "magic", "blend": {"trending": -1},
                                                                 "model_version": "v3", "rules": "none", "bogus": 1}},
                        {"name": "a", "share": 0.7, "override": {"diversity": {"lambda": 3, "by": "colour"}}}]}
    got = fields(bad)
    assert set(got) >= {"/id", "/placements", "/alpha", "/stop", "/status", "/extra", "/variants",
                        "/variants/0/override/ranker", "/variants/0/override/blend/trending",
                        "/variants/0/override/model_version", "/variants/0/override/rules", "/variants/0/override/bogus",
                        "/variants/1/name", "/variants/1/override/diversity/lambda", "/variants/1/override/diversity/by"}
    assert "more than 1" in got["/variants"] and "duplicate" in got["/variants/1/name"]


@pytest.mark.parametrize("change, field", [
    ({"variants": [{"name": "a", "share": 1}]}, "/variants"),
    ({"variants": [{"name": "a", "share": 0}, {"name": "b", "share": 0.5}]}, "/variants/0/share"),
    ({"offset": 9500}, "/offset"),
    ({"exclusion_group": None}, "/offset"),
    ({"guardrails": [{"metric": "ctr"}]}, "/guardrails/0/threshold"),
    ({"guardrails": [{"metric": "Bad Metric", "threshold": 0.1}]}, "/guardrails/0/metric"),
    ({"primary_metric": {"metric": "ctr", "threshold": 0.1}}, "/primary_metric/threshold"),
    ({"population": {"context": {"device": []}}}, "/population/context/device"),
    ({"start": "yesterday"}, "/start"),
    ({"kind": "bandit"}, "/kind"),
    ({"placements": ["Home!"]}, "/placements"),
    ({"variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5, "override": {"blend": {"x": {}}}}]},
     "/variants/1/override/blend/x"),
])
def test_each_invalid_field_is_named(change, field):
    assert field in fields({**FULL, **change})


def test_not_an_object():
    assert fields([1, 2]) == {"/": "must be an object"}


def test_yaml_positions_prefix_the_reasons():
    with pytest.raises(ValidationFailed) as exc:
        experiment_from_json({**FULL, "alpha": "x"}, where=lambda path: "line 7, column 3: " if path == "/e/alpha" else "",
                             prefix="/e")
    assert [(e.field, e.reason) for e in exc.value.errors] == [("/e/alpha", "line 7, column 3: must be a number")]


def test_transitions():
    draft = experiment_from_json(FULL)
    running = transition(draft, "running")
    stopped = transition(running, "stopped", "done")
    assert (running.status, stopped.status, stopped.status_reason) == ("running", "stopped", "done")
    assert transition(running, "running") == running  # no change is not a conflict
    for frm, to in ((running, "draft"), (stopped, "running"), (stopped, "draft")):
        with pytest.raises(ValueError, match=f"from {frm.status} to {to}"):
            transition(frm, to)
    with pytest.raises(ValidationFailed):
        transition(draft, "paused")


def test_transitions_record_when_it_started_and_stopped():
    draft = experiment_from_json({**FULL, "status": "draft"})
    assert (draft.started_at, draft.stopped_at) == (None, None)
    running = transition(draft, "running", now=100.0)
    assert transition(running, "running", now=200.0).started_at == 100.0  # set once
    stopped = transition(running, "stopped", "done", now=300.0)
    assert (stopped.started_at, stopped.stopped_at) == (100.0, 300.0)
    assert transition(stopped, "stopped", now=400.0).stopped_at == 300.0
    assert transition(draft, "stopped", now=50.0).stopped_at == 50.0 and transition(draft, "stopped").started_at is None
    assert experiment_from_json(stopped.to_json()) == stopped  # stored and read back
    unscheduled = replace(stopped, start=None, stop=None)
    assert unscheduled.window(1000.0) == (100.0, 300.0) and replace(unscheduled, stopped_at=None).window(1000.0) == (100.0, 1000.0)
    assert replace(unscheduled, start=150.0, stop=250.0).window(1000.0) == (150.0, 250.0)  # the schedule bounds it too
    assert fields({**FULL, "started_at": "yesterday"}) == {"/started_at": "must be epoch seconds or an ISO 8601 time"}


def test_with_shares_changes_only_named_variants_and_names_bad_ones():
    e = with_shares(experiment_from_json(FULL), {"treatment": 0.1})
    assert [v.share for v in e.variants] == [0.45, 0.1]
    assert isinstance(e, Experiment)
    for shares, field in (({"nope": 0.1}, "/shares/nope"), ({"control": -1}, "/shares/control"),
                          ({"control": 0.6}, "/shares")):
        with pytest.raises(ValidationFailed) as exc:
            with_shares(experiment_from_json({**FULL, "offset": 0, "exclusion_group": None}), shares)
        assert field in {x.field for x in exc.value.errors}, exc.value.errors


def test_design_for_the_sample_size():
    e = experiment_from_json({**FULL, "design": {"baseline": 0.05, "mde": 0.05}})
    assert e.design == {"baseline": 0.05, "mde": 0.05, "power": 0.8}
    assert experiment_from_json(e.to_json()) == e
    assert {"/design/baseline", "/design/power"} <= set(fields({**FULL, "design": {"baseline": 2, "mde": 0.1, "power": 0.1}}))


def test_parse_override_is_the_public_parser_bandit_arms_use():
    from tastemaker.experiments.spec import OverrideChecker, parse_override

    checker = OverrideChecker(lambda path: "line 4: " if path.startswith("/bandit") else "")
    good = parse_override(checker, {"blend": {"trending": {"weight": 2.0, "n": 5}}, "ranker": "blend"}, "/v")
    assert good.blend == {"trending": {"weight": 2.0, "n": 5}} and good.ranker == "blend" and checker.errors == []
    bad = parse_override(checker, {"blend": {"trending": -1}, "colour": "red"}, "/bandit/arms/x")
    assert bad == parse_override(OverrideChecker(None), None, "/") and not bad.blend  # errors: an empty override
    assert sorted((e.field, e.reason) for e in checker.errors) == [
        ("/bandit/arms/x/blend/trending", "line 4: must be between 0 and 1e+06"),
        ("/bandit/arms/x/colour", "line 4: unknown field 'colour' (allowed: model_version, blend, ranker, rules, diversity)")]
