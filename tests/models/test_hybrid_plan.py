"""The hybrid's plan: what is kept, degraded or dropped as the data's shape outgrows the budget."""

from __future__ import annotations

import numpy as np

from tastemaker.models.als import ALS
from tastemaker.models.cost_model import Budget, Shape
from tastemaker.models.ease import EASE
from tastemaker.models.families import default_members
from tastemaker.models.gfcf import GraphFilterCF
from tastemaker.models.hybrid_plan import MIN_VALIDATION_USERS, make_plan
from tastemaker.models.popularity_family import PopularityFamily

UNLIMITED = Budget(als_fits=float("inf"), min_seconds=float("inf"), memory_bytes=float("inf"))


def test_small_data_within_the_budget_keeps_everything() -> None:
    shape = Shape.estimate(900, 1_600, 75_000)
    plan = make_plan(default_members(), shape, UNLIMITED)
    assert list(plan.members) == list(default_members()) and plan.folds == 2 and plan.refit
    assert plan.notes == [] and plan.seconds > 0


def test_members_over_their_size_limit_take_a_stand_in_or_are_dropped() -> None:
    shape = Shape.estimate(1_000, 50_000, 100_000)
    plan = make_plan({"ease": EASE(), "gfcf": GraphFilterCF(dense_below=10**6, max_items=10**6),
                      "popularity": PopularityFamily()}, shape, Budget(memory_bytes=3 * 2**30))
    assert "ease" not in plan.members  # items^2 float64 at 50k items is 20 GB: no stand-in
    assert plan.members["gfcf"].params["dense_below"] == 0  # the factored form instead
    assert plan.peak_bytes <= 3 * 2**30
    assert any(n.startswith("ease:") and "dropped" in n for n in plan.notes)


def test_over_the_time_budget_validation_effort_goes_first_then_members() -> None:
    shape = Shape.estimate(50_000, 100_000, 1_000_000)
    members = {"als": ALS(factors=128), "popularity": PopularityFamily()}
    plan = make_plan(members, shape, Budget(als_fits=2.0, min_seconds=1.0))
    assert plan.folds == 1
    assert plan.members["als"].params["factors"] == 64
    assert plan.seconds <= plan.budget_seconds
    assert members["als"].params["factors"] == 128  # the caller's members are not modified
    tight = make_plan(members, shape, Budget(als_fits=0.2, min_seconds=0.0))
    # a member whose single fit is over the whole budget goes, after its stand-ins
    assert list(tight.members) == ["popularity"] and tight.notes[-1] == "als: a fit takes ~10.1s, over the budget; dropped"


def test_the_validation_users_shrink_with_memory_but_not_below_the_floor() -> None:
    shape = Shape.estimate(200_000, 100_000, 2_000_000)
    plan = make_plan(default_members(), shape, Budget(als_fits=2.0, min_seconds=1.0))
    # members * users * items * 4 bytes of validation scores stay within 1 GiB
    assert 4.0 * len(plan.members) * plan.validation_users * plan.folds * shape.items <= 2**30 + 1
    assert plan.validation_users * plan.folds >= 1
    assert MIN_VALIDATION_USERS == 500


def test_the_plan_is_deterministic_and_ordered_by_declared_value() -> None:
    shape = Shape.estimate(50_000, 100_000, 1_000_000)
    a = make_plan(default_members(), shape, Budget())
    b = make_plan(default_members(), shape, Budget())
    assert a.summary() == b.summary() and a.notes == b.notes
    order = list(default_members())
    assert [n for n in order if n in a.members] == list(a.members)
    assert np.isclose(a.budget_seconds, Budget().seconds(shape))
