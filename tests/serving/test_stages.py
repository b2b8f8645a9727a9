"""serving.stages: the ranking stages a configured placement builds, in order, each swappable."""

from __future__ import annotations

import gc

import pytest

from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.placements import apply_overrides
from tastemaker.serving.stages import Diversify, build_stages, stages_for
from tests.serving.conftest import World

POPULAR = {"popular": 1.0}
FULL = {
    "sources": POPULAR,
    "ranker": "ltr",
    "rules": [{"boost": 'brand == "zen"', "factor": 2}],
    "fairness": {"popularity_penalty": 0.2, "min_exposure": {"brand": {"acme": 0.3}}},
    "diversity": {"lambda": 0.3, "method": "swap", "calibration": 0.5},
    "overrides": ["ranker", "calibration"],
}


def names(stages) -> list[str]:
    return [stage.name for stage in stages]


def test_a_configured_placement_builds_its_stages_in_pipeline_order():
    placement = PlacementRegistry().put("full", FULL)
    stages = build_stages(placement)
    assert names(stages) == ["ranker:ltr", "rules", "fairness:popularity", "diversity:calibration",
                             "fairness:min-exposure", "arrange", "impression-log"]
    calibrate = stages[3]
    assert calibrate.weight == 0.5 and calibrate.fallback == Diversify("swap", 0.3)  # users with no affinity yet
    assert stages[2].penalty == 0.2 and stages[4].groups == (("brand", (("acme", 0.3),)),)
    # per-request overrides make another placement, with the stages its knobs choose
    blend = apply_overrides(placement, {"ranker": "blend", "calibration": "0"})
    assert names(build_stages(blend)) == ["ranker:blend", "rules", "fairness:popularity", "diversity:swap",
                                          "fairness:min-exposure", "arrange"]


@pytest.mark.parametrize(("doc", "expected"), [
    ({"diversity": {"lambda": 0.5}}, ["ranker:blend", "diversity:mmr", "arrange"]),
    ({"diversity": {"lambda": 0.5, "method": "mmr-sum"}}, ["ranker:blend", "diversity:mmr-sum", "arrange"]),
    ({"log_impressions": True}, ["ranker:blend", "arrange", "impression-log"]),
    ({"rules": [{"cap": "brand", "max": 1}]}, ["ranker:blend", "rules", "arrange"]),
    ({"fairness": {"min_exposure": {"brand": {"acme": 0.5}}}}, ["ranker:blend", "fairness:min-exposure", "arrange"]),
])
def test_only_the_configured_concerns_get_a_stage(doc, expected):
    assert names(build_stages(PlacementRegistry().put("p", {"sources": POPULAR, **doc}))) == expected


def test_stages_are_built_once_per_placement_object():
    from tastemaker.serving import stages as module

    placement = PlacementRegistry().put("full", FULL)
    assert stages_for(placement) is stages_for(placement)
    overridden = apply_overrides(placement, {"ranker": "blend"})
    assert names(stages_for(overridden))[0] == "ranker:blend"
    assert names(stages_for(placement))[0] == "ranker:ltr"
    gc.collect()  # placements of earlier tests still waiting for the collector leave first
    cached = len(module._built)
    del overridden
    gc.collect()
    assert len(module._built) == cached - 1  # a request's overridden placement takes its entry along


class Recorded:
    """A stage that records the table and the ranking order it leaves."""

    def __init__(self, stage, log: list) -> None:
        self.stage, self.log, self.name = stage, log, stage.name

    def __call__(self, table, ctx):
        table = self.stage(table, ctx)
        order = None if ctx.order is None else ctx.order.tolist()
        self.log.append((self.name, table.items.tolist(), table.scores.tolist(), order))
        return table


MMR = {"sources": POPULAR, "rules": [{"boost": 'brand == "zen"', "factor": 2}], "diversity": {"lambda": 0.5}}


def test_swapping_one_stage_changes_only_that_stages_effect(shop: World):
    shop.recommender.placements.put("home", MMR)
    mmr_log: list = []
    shop.recommender.stages = lambda p: [Recorded(s, mmr_log) for s in stages_for(p)]
    assert shop.ids("newcomer", n=4) == ["x10", "x4", "x8", "x6"]

    swap_log: list = []
    swapped = [Diversify("swap", 0.5) if s.name == "diversity:mmr" else s for s in stages_for(shop.recommender.placement("home"))]
    shop.recommender.stages = lambda p: [Recorded(s, swap_log) for s in swapped]
    served = shop.ids("newcomer", n=4)

    assert names_of(mmr_log) == ["ranker:blend", "rules", "diversity:mmr", "arrange"]
    assert names_of(swap_log) == ["ranker:blend", "rules", "diversity:swap", "arrange"]
    assert swap_log[:2] == mmr_log[:2]  # the stages before it saw and left the same table
    assert swap_log[2][1:3] == mmr_log[2][1:3] and swap_log[2][3] != mmr_log[2][3]  # same rows, another order
    # what the variant serves is what a placement configured with that method serves
    shop.recommender.stages = stages_for
    shop.recommender.placements.put("home", {**MMR, "diversity": {"lambda": 0.5, "method": "swap"}})
    assert served == shop.ids("newcomer", n=4) == ["x10", "x8", "x4", "x2"]


def names_of(log: list) -> list[str]:
    return [entry[0] for entry in log]


def test_calibration_falls_back_to_diversity_for_a_user_without_affinity(shop: World):
    shop.recommender.placements.put("home", {**MMR, "diversity": {"lambda": 0.5, "calibration": 0.9}})
    with_fallback = shop.ids("newcomer", n=4)
    shop.recommender.placements.put("home", MMR)
    assert with_fallback == shop.ids("newcomer", n=4) == ["x10", "x4", "x8", "x6"]
