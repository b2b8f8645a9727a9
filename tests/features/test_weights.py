"""features.weights: how much an event says about interest."""

from __future__ import annotations

import pytest

from tastemaker.features.weights import CUSTOM_EVENT_WEIGHT, EVENT_WEIGHTS, interest_weight
from tastemaker.schema.records import BUILTIN_EVENT_TYPES


def test_every_builtin_type_has_a_weight():
    assert set(EVENT_WEIGHTS) == set(BUILTIN_EVENT_TYPES)


def test_funnel_order():
    w = [interest_weight(t, None) for t in ("view", "click", "add_to_cart", "purchase")]
    assert w == sorted(w) and len(set(w)) == 4


@pytest.mark.parametrize("event_type", ["impression", "dislike", "feedback", "search"])
def test_no_interest(event_type):
    assert interest_weight(event_type, None) == 0.0


@pytest.mark.parametrize(("value", "weight"), [(None, 0.0), (0.0, 0.0), (-1.0, 0.0), (1.25, 1.5), (5.0, 3.0)])
def test_rating_known_answers(value, weight):
    assert interest_weight("rating", value) == pytest.approx(weight)


def test_custom_types_and_values_of_other_types():
    assert interest_weight("wishlist", None) == CUSTOM_EVENT_WEIGHT == 1.0
    assert interest_weight("purchase", 999.0) == interest_weight("purchase", None)  # price does not scale interest


@pytest.mark.parametrize("value", [1e308, float("inf"), float("nan"), -1e308])
def test_extreme_ratings_in_an_old_log_stay_finite(value):
    # the top of the default 0..5 scale, or nothing: never an overflow
    assert interest_weight("rating", value) in (0.0, 3.0)
