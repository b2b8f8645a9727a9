"""The cost model: shapes measured from matrices, costs that grow as the operations do, the budget."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.models.als import ALS
from tastemaker.models.cost_model import (
    Budget,
    Cost,
    Shape,
    als_reference_seconds,
    count_sessions,
    dense_inverse_seconds,
)
from tastemaker.models.ease import EASE
from tastemaker.models.gfcf import GraphFilterCF


def test_shape_of_a_matrix_counts_cells_pairs_and_sessions() -> None:
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 0]], np.float32))
    T = sp.csr_matrix(np.array([[0, 30, 0], [0, 100, 110], [0, 0, 0]], np.float32))
    # timestamps 0 are not stored by csr: user 1's cells are at 100 and 110, user 0's at 30
    shape = Shape.of(X, items=None, timestamps=T, gaps=(0.0, 60.0))
    assert (shape.users, shape.items, shape.nnz) == (3, 3, 5)
    assert shape.pairs == 2 * 2 + 3 * 3  # sum over users of n_u^2: the terms of X^T X
    assert not shape.has_items and shape.has_times
    assert dict(shape.sessions) == {0.0: 3, 60.0: 2}
    assert shape.session_rows(60.0) == 2 and shape.session_rows(120.0) == 2  # a wider gap splits less


def test_count_sessions_splits_where_a_gap_is_exceeded() -> None:
    T = sp.csr_matrix(np.array([[1, 2, 500, 0], [10, 0, 0, 20]], np.float64))
    assert count_sessions(T, 60) == 3 and count_sessions(T, 5) == 4 and count_sessions(T, 1e9) == 2
    assert count_sessions(sp.csr_matrix((2, 2)), 60) == 0


def test_estimated_shape_and_costs_grow_with_the_data() -> None:
    small, large = Shape.estimate(1_000, 2_000, 50_000), Shape.estimate(1_000, 8_000, 50_000)
    assert small.pairs == 2.0 * 50_000**2 / 1_000
    # EASE's inverse is cubic in items: four times the items, ~64 times the inverse
    assert dense_inverse_seconds(8_000, 8) / dense_inverse_seconds(2_000, 8) == 64.0
    assert EASE().cost(large).seconds > 10 * EASE().cost(small).seconds
    assert EASE().cost(large).peak_bytes >= 4.0 * 8_000**2
    # ALS grows linearly in rows and cells, and with factors
    assert ALS(factors=128).cost(small).seconds > ALS(factors=64).cost(small).seconds
    assert als_reference_seconds(large) > als_reference_seconds(small)


def test_cost_addition_sums_time_and_kept_memory_and_takes_the_larger_peak() -> None:
    total = Cost(1.0, 10.0, 2.0) + Cost(2.0, 5.0, 3.0)
    assert total == Cost(3.0, 10.0, 5.0)


def test_the_budget_has_a_floor_and_otherwise_follows_the_reference_fit() -> None:
    tiny, huge = Shape.estimate(10, 10, 100), Shape.estimate(10**6, 10**6, 10**8)
    budget = Budget(als_fits=2.0, min_seconds=15.0)
    assert budget.seconds(tiny) == 15.0
    assert budget.seconds(huge) == 2.0 * als_reference_seconds(huge) > 15.0


def test_gfcf_dense_costs_items_squared_and_factored_does_not() -> None:
    shape = Shape.estimate(50_000, 100_000, 1_000_000)
    assert GraphFilterCF().cost(shape).peak_bytes < 2 * 2**30  # factored above dense_below
    dense = GraphFilterCF(dense_below=10**6, max_items=10**6).cost(shape)
    assert dense.peak_bytes >= 4.0 * 100_000**2
