"""Assignment: deterministic across processes, shares as designed, layers independent,
exclusion groups disjoint, the global holdout, population filters and schedules."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from tastemaker.experiments.assignment import HOLDOUT_ID, NOT_ASSIGNED, Assigner, bucket, free_offset
from tastemaker.experiments.spec import BUCKETS, experiment_from_json

USERS = [f"user-{i}" for i in range(100_000)]
P_MIN = 1e-3  # a correct design fails a check this strict once in a thousand seeds; ids are fixed, so never flaky


def exp(id: str, shares=(0.5, 0.5), **kw):
    doc = {"id": id, "status": "running", "placements": kw.pop("placements", ["home"]),
           "variants": [{"name": f"v{i}", "share": s} for i, s in enumerate(shares)], **kw}
    return experiment_from_json(doc)


def variant_of(assigner: Assigner, user: str, exp_id: str, placement: str = "home", **kw) -> str | None:
    for x in assigner.assign(user, placement, **kw).exposures:
        if x.experiment.id == exp_id:
            return x.variant.name
    return None


def test_the_same_user_gets_the_same_bucket_in_another_process():
    ids = USERS[:200]
    mine = [bucket(u, "default:t") for u in ids]
    code = ("import sys; from tastemaker.experiments.assignment import bucket; "
            "print(','.join(str(bucket(u, 'default:t')) for u in sys.argv[1:]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # Python's own str hash differs per process; ours must not
    out = subprocess.run([sys.executable, "-c", code, *ids], capture_output=True, text=True, env=env, check=True)
    assert [int(b) for b in out.stdout.strip().split(",")] == mine


def test_assignment_is_deterministic_and_reports_the_design_probability():
    e = exp("t", (0.2, 0.3, 0.5))
    a, b = Assigner([e]), Assigner([exp("t", (0.2, 0.3, 0.5))])  # "after a restart": rebuilt from the document
    for u in USERS[:1000]:
        first = a.assign(u, "home")
        assert first == b.assign(u, "home")
        (x,) = first.exposures
        assert x.propensity == {"v0": 0.2, "v1": 0.3, "v2": 0.5}[x.variant.name]
        assert x.public() == {"id": "t", "variant": x.variant.name, "propensity": x.propensity}


def test_shares_hold_within_binomial_tolerance_over_100k_users():
    e = exp("t", (0.2, 0.3, 0.4))  # 10% of users are in no variant
    assigner = Assigner([e])
    counts = Counter(variant_of(assigner, u, "t") for u in USERS)
    observed = [counts["v0"], counts["v1"], counts["v2"], counts[None]]
    expected = np.array([0.2, 0.3, 0.4, 0.1]) * len(USERS)
    assert stats.chisquare(observed, expected).pvalue > P_MIN, observed
    # and each share alone within 4.5 binomial standard deviations
    for got, p in zip(observed, [0.2, 0.3, 0.4, 0.1]):
        assert abs(got - p * len(USERS)) < 4.5 * np.sqrt(len(USERS) * p * (1 - p))


def test_buckets_are_uniform():
    counts = np.bincount([bucket(u, "s") for u in USERS], minlength=BUCKETS)
    assert stats.chisquare(counts).pvalue > P_MIN


@pytest.mark.parametrize("second", [{"layer": "ranking"}, {}])
def test_experiments_are_independent_across_layers_and_experiments(second):
    a, b = exp("blend", layer="sources"), exp("rank", **second)
    assigner = Assigner([a, b])
    table = np.zeros((2, 2))
    for u in USERS[:40_000]:
        table[int(variant_of(assigner, u, "blend")[1]), int(variant_of(assigner, u, "rank")[1])] += 1
    assert stats.chi2_contingency(table).pvalue > P_MIN, table


def test_an_exclusion_group_puts_a_user_in_at_most_one_of_its_experiments():
    a = exp("a", (0.2, 0.2), exclusion_group="checkout")
    offset = free_offset([a], 6000)
    assert offset == 4000
    b = exp("b", (0.3, 0.3), exclusion_group="checkout", offset=offset)
    assert free_offset([a, b], 1) is None  # the group's space is full
    assigner = Assigner([a, b])
    both = in_a = in_b = 0
    for u in USERS[:50_000]:
        ids = {x.experiment.id for x in assigner.assign(u, "home").exposures}
        both += ids == {"a", "b"}
        in_a += "a" in ids
        in_b += "b" in ids
    assert both == 0
    assert abs(in_a / 50_000 - 0.4) < 0.01 and abs(in_b / 50_000 - 0.6) < 0.01


def test_stopped_group_members_free_their_range():
    a = exp("a", (0.2, 0.2), exclusion_group="g")
    stopped = experiment_from_json({**a.to_json(), "status": "stopped"})
    assert free_offset([stopped], 10_000) == 0


def test_the_global_holdout_keeps_users_out_of_every_experiment():
    assigner = Assigner([exp("t")], holdout=0.1)
    held = 0
    for u in USERS[:20_000]:
        got = assigner.assign(u, "home")
        first = got.exposures[0]
        assert first.experiment.id == HOLDOUT_ID
        if got.holdout:
            held += 1
            assert got.exposures == (first,) and first.variant.name == "holdout" and first.propensity == 0.1
        else:
            assert first.variant.name == "personalized" and first.propensity == 0.9
            assert [x.experiment.id for x in got.exposures[1:]] == ["t"]
    assert abs(held - 2000) < 4.5 * np.sqrt(20_000 * 0.1 * 0.9)
    again = Assigner([], holdout=0.1)  # the same users, whatever else runs
    assert all(again.assign(u, "cart").holdout == assigner.assign(u, "home").holdout for u in USERS[:2000])


def test_the_population_filter_admits_only_matching_requests():
    e = exp("t", (0.5, 0.5), population={"segments": ["buyer"], "context": {"device": ["mobile", "tablet"]}})
    assigner = Assigner([e])
    calls = []

    def segments():
        calls.append(1)
        return ["buyer", "active"]

    assert assigner.assign("u", "home", {"device": "desktop"}, segments) is NOT_ASSIGNED
    assert calls == []  # the context refused it first: segments never computed
    assert assigner.assign("u", "home", {"device": "mobile"}, lambda: ["new"]) is NOT_ASSIGNED
    assert assigner.assign("u", "home", {}, segments) is NOT_ASSIGNED
    assert len(assigner.assign("u", "home", {"device": "tablet"}, segments).exposures) == 1


def test_only_running_experiments_in_their_window_and_on_their_placements_assign():
    now = [1000.0]
    scheduled = exp("s", start=1500, stop=2000)
    draft = experiment_from_json({**exp("d").to_json(), "status": "draft"})
    everywhere = exp("all", placements=["*"])
    assigner = Assigner([scheduled, draft, everywhere], clock=lambda: now[0])
    assert not Assigner([draft])
    assert {x.experiment.id for x in assigner.assign("u", "home").exposures} == {"all"}
    now[0] = 1500.0
    assert {x.experiment.id for x in assigner.assign("u", "home").exposures} == {"s", "all"}
    assert {x.experiment.id for x in assigner.assign("u", "some-other").exposures} == {"all"}
    now[0] = 2000.0
    assert {x.experiment.id for x in assigner.assign("u", "home").exposures} == {"all"}


@pytest.mark.parametrize("share", [-0.1, 1.0, float("nan")])
def test_a_holdout_outside_0_to_1_is_refused(share):
    with pytest.raises(ValueError, match="TASTEMAKER_EXPERIMENT_HOLDOUT"):
        Assigner([], holdout=share)
