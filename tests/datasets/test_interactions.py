"""Interaction matrix builder: event weights, ratings, dislikes, decay, dedupe (known answers)."""

from __future__ import annotations

import math
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import scipy.sparse as sp

from tastemaker.datasets.interactions import DAY_S, InteractionData, build_interactions
from tastemaker.features.weights import interest_weight

T0 = 1_700_000_000.0


def ev(rows: list[tuple]) -> dict[str, list]:
    """Columns from (user, item, type, value, timestamp) tuples."""
    u, i, t, v, ts = zip(*rows)
    return {"user_id": list(u), "item_id": list(i), "type": list(t), "value": list(v),
            "timestamp": list(ts)}


def dense(d: InteractionData) -> dict[tuple[str, str], float]:
    m = d.matrix.tocoo()
    return {(d.user_ids[r], d.item_ids[c]): round(float(x), 4)
            for r, c, x in zip(m.row, m.col, m.data)}


def test_event_type_weights_order():
    d = build_interactions(ev([("u", "a", "view", None, T0), ("u", "b", "click", None, T0),
                               ("u", "c", "add_to_cart", None, T0), ("u", "d", "purchase", None, T0)]))
    assert dense(d) == {("u", "a"): 1.0, ("u", "b"): 2.0, ("u", "c"): 4.0, ("u", "d"): 6.0}
    assert d.matrix.dtype == np.float32 and d.matrix.has_canonical_format


def test_types_of_one_pair_add_up():
    # view 1 + click 2 + add_to_cart 4 + purchase 6 = 13
    d = build_interactions(ev([("u", "a", t, None, T0 + k) for k, t in
                               enumerate(["view", "click", "add_to_cart", "purchase"])]))
    assert dense(d) == {("u", "a"): 13.0}
    assert d.timestamps.tolist() == [T0 + 3]  # the pair's latest event


def test_ratings_weighted_by_the_square_root_of_their_place_on_the_scale():
    # rating weight 3 * sqrt(value / 5): 5 -> 3.0, 1.25 -> 1.5, 0 (the neutral point) -> absent
    d = build_interactions(ev([("u", "a", "rating", 5.0, T0), ("u", "b", "rating", 1.25, T0),
                               ("u", "c", "rating", 0.0, T0)]))
    assert dense(d) == {("u", "a"): 3.0, ("u", "b"): 1.5}
    assert d.ratings.tolist() == [5.0, 1.25]
    assert d.item_ids == ["a", "b", "c"]  # the rated items keep their column
    assert d.negatives.nnz == 0  # a zero rating is "no interest", not a dislike


def test_a_higher_neutral_point_drops_the_ratings_at_or_below_it():
    # neutral 2.5: 3 * sqrt((value - 2.5) / 2.5): 5 -> 3.0, 3.125 -> 1.5, 2.5 and 1 -> absent
    rows = ev([("u", "a", "rating", 5.0, T0), ("u", "b", "rating", 3.125, T0),
               ("u", "c", "rating", 2.5, T0), ("u", "d", "rating", 1.0, T0)])
    assert dense(build_interactions(rows, rating_neutral=2.5)) == {("u", "a"): 3.0, ("u", "b"): 1.5}
    assert dense(build_interactions(rows, rating_neutral=2.5, binary=True)) == {
        ("u", "a"): 1.0, ("u", "b"): 1.0}


def test_training_and_serving_weigh_a_rating_alike():
    for value in (0.5, 1.0, 2.5, 4.0, 5.0):
        d = build_interactions(ev([("u", "a", "rating", value, T0)]))
        assert d.matrix.data[0] == pytest.approx(interest_weight("rating", value), rel=1e-6)  # float32 cells


def test_latest_rating_replaces_earlier():
    d = build_interactions(ev([("u", "a", "rating", 5.0, T0), ("u", "a", "rating", 0.0, T0 + 1),
                               ("u", "b", "rating", 0.0, T0), ("u", "b", "rating", 5.0, T0 + 1)]))
    assert dense(d) == {("u", "b"): 3.0}
    assert d.ratings.tolist() == [5.0]


def test_dislike_is_negative_and_clipped():
    # a: view 1 + dislike -4 = -3 -> negatives; b: purchase 6 - 4 = 2 -> kept, not negative
    d = build_interactions(ev([("u", "a", "view", None, T0), ("u", "a", "dislike", None, T0 + 1),
                               ("u", "b", "purchase", None, T0), ("u", "b", "dislike", None, T0)]))
    assert dense(d) == {("u", "b"): 2.0}
    assert d.negatives.dtype == bool and d.negatives.toarray().tolist() == [[True, False]]
    assert (d.matrix.data >= 0).all()


def test_time_decay_half_life():
    # half-life 1 day, now = latest event: ages 0, 1 and 2 days -> 6, 0.5 * 6, 0.25 * 6
    d = build_interactions(ev([("u", "a", "purchase", None, T0),
                               ("u", "b", "purchase", None, T0 - DAY_S),
                               ("u", "c", "purchase", None, T0 - 2 * DAY_S)]), half_life_days=1.0)
    assert dense(d) == {("u", "a"): 6.0, ("u", "b"): 3.0, ("u", "c"): 1.5}
    # an explicit `now` two days later quarters everything
    d2 = build_interactions(ev([("u", "a", "purchase", None, T0)]), half_life_days=1.0,
                            now=T0 + 2 * DAY_S)
    assert dense(d2) == {("u", "a"): 1.5}


def test_dedupe_diminishing_returns():
    rows = ev([("u", "a", "view", None, T0 + k) for k in range(3)])
    assert dense(build_interactions(rows)) == {("u", "a"): round(1 + math.log(3), 4)}  # 2.0986
    assert dense(build_interactions(rows, dedupe="sum")) == {("u", "a"): 3.0}
    assert dense(build_interactions(rows, dedupe="mean")) == {("u", "a"): 1.0}
    with pytest.raises(ValueError):
        build_interactions(rows, dedupe="max")  # type: ignore[arg-type]


def test_dedupe_with_decay():
    # two views aged 0 and 1 half-life: mean 0.75 * (1 + ln 2) = 1.2699
    d = build_interactions(ev([("u", "a", "view", None, T0), ("u", "a", "view", None, T0 - DAY_S)]),
                           half_life_days=1.0)
    assert dense(d) == {("u", "a"): round(0.75 * (1 + math.log(2)), 4)}


def test_index_order_unknown_items_search_and_custom_types():
    rows = ev([("u2", "a", "view", None, T0), ("u1", "zz", "view", None, T0),
               ("u1", None, "search", None, T0), ("u1", "b", "wishlist", None, T0),
               ("u1", "a", "impression", None, T0)])
    d = build_interactions(rows, item_ids=["b", "a"])
    assert d.user_ids == ["u1", "u2"] and d.item_ids == ["b", "a"]
    # custom types weigh 1; impressions 0; unknown items and item-less events dropped
    assert dense(d) == {("u1", "b"): 1.0, ("u2", "a"): 1.0}
    d2 = build_interactions(rows, user_ids=["u2"])
    assert d2.user_ids == ["u2"] and d2.shape == (1, 3)


def test_custom_weights_and_no_type_column():
    d = build_interactions(ev([("u", "a", "view", None, T0)]), weights={"view": 5.0})
    assert dense(d) == {("u", "a"): 5.0}
    d = build_interactions({"user_id": ["u", "u", "v"], "item_id": ["a", "a", "b"]}, dedupe="sum")
    assert dense(d) == {("u", "a"): 2.0, ("v", "b"): 1.0}
    assert d.timestamps is None and d.ratings is None


def test_subset_carries_per_cell_arrays():
    d = build_interactions(ev([("u", "a", "rating", 5.0, T0), ("u", "b", "rating", 4.0, T0 + 9)]))
    sub = d.subset(sp.csr_matrix(np.array([[0, 1]], dtype=np.float32)))
    assert sub.timestamps.tolist() == [T0 + 9] and sub.ratings.tolist() == [4.0]
    empty_ok = d.subset(sp.csr_matrix((1, 2), dtype=np.float32))
    assert empty_ok.matrix.nnz == 0


def test_subset_rejects_foreign_cells():
    d = build_interactions(ev([("u", "a", "view", None, T0), ("u", "b", "rating", 0.0, T0)]))
    assert d.shape == (1, 2)
    with pytest.raises(ValueError):
        d.subset(sp.csr_matrix(np.array([[0, 1]], dtype=np.float32)))


def test_two_million_events_fast():
    n, rng = 2_000_000, np.random.default_rng(0)
    def ids(prefix: str, k: np.ndarray) -> pa.Array:
        return pc.binary_join_element_wise(prefix, pc.cast(pa.array(k), pa.string()), "")
    types = pa.array(["view", "click", "add_to_cart", "purchase", "rating", "dislike"])
    table = pa.table({
        "user_id": ids("u", rng.integers(0, 50_000, n)),
        "item_id": ids("i", (rng.pareto(1.0, n) * 50).astype(np.int64) % 20_000),
        "type": types.take(pa.array(rng.choice(6, n, p=[.6, .2, .08, .04, .05, .03]))),
        "value": rng.integers(1, 6, n).astype(np.float64),
        "timestamp": np.sort(T0 + rng.random(n) * 30 * DAY_S),
    })
    t = time.perf_counter()
    d = build_interactions(table, half_life_days=7.0)
    elapsed = time.perf_counter() - t
    assert d.matrix.nnz > 500_000 and d.negatives.nnz > 0
    assert elapsed < 10.0, f"2M events took {elapsed:.2f}s"


# -- extreme values already in a log (issue 11) ------------------------------------------


def test_off_scale_ratings_are_clipped_and_infinite_ones_ignored():
    ev = {"user_id": ["a", "a", "b", "b", "c"], "item_id": ["x", "y", "x", "y", "x"],
          "type": ["rating", "rating", "rating", "rating", "rating"],
          "value": [1e308, 5.0, float("inf"), -1e300, 4.0], "timestamp": [1.0, 2.0, 3.0, 4.0, 5.0]}
    data = build_interactions(ev, rating_range=(0.0, 5.0))
    assert data.out_of_range == 3
    assert np.isfinite(data.matrix.data).all()
    dense = data.matrix.toarray()
    # 1e308 counts as the top of the scale, exactly like a 5
    assert dense[0, 0] == pytest.approx(dense[0, 1]) == pytest.approx(3.0 * (5.0 - 2.5) / 2.5)
    # b's infinite rating is no rating at all; b's -1e300 is clipped to 0 (no interest)
    assert dense[1].tolist() == [0.0, 0.0]
    assert data.ratings is not None and np.isfinite(data.ratings).all()


def test_the_rating_scale_defaults_to_the_configured_one(monkeypatch):
    ev = {"user_id": ["a"], "item_id": ["x"], "type": ["rating"], "value": [9.0]}
    assert build_interactions(ev).out_of_range == 1  # default 0..5
    monkeypatch.setenv("TASTEMAKER_RATING_SCALE", "1,10")
    data = build_interactions(ev)
    assert data.out_of_range == 0 and data.ratings.tolist() == [9.0]


def test_values_of_other_types_do_not_matter():
    ev = {"user_id": ["a"], "item_id": ["x"], "type": ["purchase"], "value": [1e308]}
    data = build_interactions(ev)
    assert data.out_of_range == 0 and data.matrix.data.tolist() == [6.0]


def test_docstring_example():
    import doctest

    from tastemaker.datasets import interactions

    result = doctest.testmod(interactions, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
