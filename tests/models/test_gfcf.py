"""GF-CF: known answers of both filters, binarised input, the size limit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models.gfcf import GraphFilterCF, inverse_sqrt_degrees

from tests.models.conftest_tiny import tiny


def csr(rows: list[list[float]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.asarray(rows, np.float32))


def test_linear_filter_known_answer() -> None:
    # users {0, 1} and {1, 2}: user degrees 2, 2; item degrees 1, 2, 1
    # R~ = [[1/sqrt2, 1/2, 0], [0, 1/2, 1/sqrt2]], P = R~^T R~
    model = GraphFilterCF(factors=0, alpha=0.0).fit(csr([[1, 1, 0], [0, 1, 1]]))
    s = 0.5 / np.sqrt(2)
    expected = np.array([[0.5, s, 0.0], [s, 0.5, s], [0.0, s, 0.5]], np.float32)
    np.testing.assert_allclose(model.B, expected, rtol=1e-6)
    np.testing.assert_allclose(model.score(csr([[1, 0, 0]])), expected[:1], rtol=1e-6)


def test_ideal_low_pass_known_answer() -> None:
    # all ones, 2 x 3: R~ = ones / sqrt(6), P = ones / 3; its one singular vector is
    # ones / sqrt(3) and degrees are equal, so the low-pass filter is ones / 3 too
    X = csr([[1, 1, 1], [1, 1, 1]])
    linear = GraphFilterCF(factors=1, alpha=0.0).fit(X)
    both = GraphFilterCF(factors=1, alpha=2.0).fit(X)
    np.testing.assert_allclose(linear.B, np.full((3, 3), 1 / 3), rtol=1e-6)
    np.testing.assert_allclose(both.B, np.full((3, 3), 1 / 3 + 2 / 3), rtol=1e-5)


def test_weights_are_binarised_at_fit_and_at_scoring() -> None:
    X = sp.random(30, 12, density=0.3, random_state=1, format="csr", dtype=np.float32)
    weighted = GraphFilterCF(factors=4).fit(X * 3.0)
    binary = GraphFilterCF(factors=4).fit((X > 0).astype(np.float32))
    np.testing.assert_allclose(weighted.B, binary.B, rtol=1e-5, atol=1e-7)
    row = X[:2]
    np.testing.assert_allclose(weighted.score(row * 5.0), binary.score((row > 0).astype(np.float32)), rtol=1e-5)


def test_float32_path_agrees_with_float64() -> None:
    X = sp.random(40, 25, density=0.3, random_state=2, format="csr", dtype=np.float32)
    exact = GraphFilterCF(factors=5).fit(X)
    single = GraphFilterCF(factors=5, float64_below=0).fit(X)
    np.testing.assert_allclose(single.B, exact.B, rtol=1e-3, atol=1e-5)


def test_items_nobody_touched_score_zero_and_stay_finite() -> None:
    model = GraphFilterCF(factors=1).fit(csr([[1, 1, 0, 0], [0, 1, 1, 0]]))
    S = model.score(csr([[1, 1, 1, 0]]))
    assert np.isfinite(S).all() and S[0, 3] == 0.0
    assert (inverse_sqrt_degrees(np.array([0.0, 4.0])) == [0.0, 0.5]).all()


def test_the_factored_form_scores_as_the_dense_one_and_has_no_size_limit() -> None:
    X = sp.random(60, 40, density=0.2, random_state=3, format="csr", dtype=np.float32)
    dense = GraphFilterCF(factors=6, float64_below=0).fit(X)
    factored = GraphFilterCF(factors=6, dense_below=0).fit(X)
    assert dense.dense(40) and not factored.dense(40)
    assert factored.B.size == 0 and factored.P is not None and factored.U.shape == (40, 6)
    rows = X[:7]
    # both are float32 sums of the same two filters: equal to float32 rounding
    np.testing.assert_allclose(factored.score(rows), dense.score(rows), rtol=1e-4, atol=1e-5)
    assert GraphFilterCF(max_items=5).fits(10**6)  # above max_items the factored form is used
    assert not GraphFilterCF(max_items=5).dense(6)
    with pytest.raises(ValueError, match="factors"):
        GraphFilterCF(factors=-1)


def test_the_stand_in_of_a_dense_fit_is_the_factored_form() -> None:
    from tastemaker.models.cost_model import Shape
    small, large = Shape.estimate(100, 1_000, 5_000), Shape.estimate(100, 50_000, 5_000)
    (stand_in,) = GraphFilterCF().stand_ins(small)
    assert stand_in.params["dense_below"] == 0 and GraphFilterCF().stand_ins(large) == []
    assert stand_in.cost(small).peak_bytes < GraphFilterCF().cost(small).peak_bytes


def test_a_tie_at_the_rank_cut_does_not_pick_a_machine_dependent_basis() -> None:
    # the two-cluster set has sigma_2 == sigma_3 in R~: with factors=2 the old fit kept one
    # arbitrary vector of the tied pair (ARPACK's pick, which varied by machine) and scored
    # items of the wrong cluster there; the whole pair is kept now, so B keeps the data's
    # symmetry (swap the clusters: items i <-> i + 6, users u <-> u + 6)
    X, _, _ = tiny()
    swap = np.r_[6:12, 0:6]
    assert (X[swap][:, swap] != X).nnz == 0
    B = GraphFilterCF(factors=2, alpha=1.0).fit(X).B
    np.testing.assert_allclose(B[swap][:, swap], B, atol=1e-6)
    np.testing.assert_allclose(B, GraphFilterCF(factors=3, alpha=1.0).fit(X).B, atol=1e-6)
