"""ALS, BPR and session ALS: implicit's fit and fold-in, the GEMM fold-in path, session rows."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models.als import ALS, fold_in_numpy
from tastemaker.models.bpr import BPR

from tests.models.conftest_tiny import A_ITEMS, row, tiny

# -- ALS / BPR ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ml_like() -> sp.csr_matrix:
    rng = np.random.default_rng(1)
    dense = (rng.random((200, 120)) < 0.08).astype(np.float32) * rng.integers(1, 4, (200, 120))
    return sp.csr_matrix(dense.astype(np.float32))


def test_als_fit_is_implicits_fit(ml_like):
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    ours = ALS(factors=8, regularization=0.5, alpha=3.0, iterations=5, random_state=4).fit(ml_like)
    with threadpool_limits(1, "blas"):
        raw = AlternatingLeastSquares(factors=8, regularization=0.5, alpha=3.0, iterations=5, random_state=4)
        raw.fit(ml_like, show_progress=False)
    np.testing.assert_allclose(ours.item_factors, raw.item_factors, rtol=1e-5, atol=1e-6)


def test_als_fold_in_equals_implicits_recalculate_user(ml_like):
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    model = ALS(factors=8, regularization=0.5, alpha=3.0, iterations=5, random_state=4).fit(ml_like)
    with threadpool_limits(1, "blas"):
        raw = AlternatingLeastSquares(factors=8, regularization=0.5, alpha=3.0, iterations=5, random_state=4)
        raw.fit(ml_like, show_progress=False)
    rows = ml_like[:20]
    ref = raw.recalculate_user(np.arange(20), rows)
    np.testing.assert_allclose(model.recalculate_user(rows), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.recalculate_user(rows), fold_in_numpy(rows, model.item_factors, 0.5, 3.0),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(model.recalculate_user(rows[3]), ref[3:4], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.score(rows), ref @ model.item_factors.T, rtol=1e-4, atol=1e-5)


def test_fold_in_of_a_long_row_solves_the_same_system_as_implicits_kernel(ml_like):
    model = ALS(factors=8, regularization=0.5, alpha=3.0, iterations=5).fit(ml_like)
    rng = np.random.default_rng(4)
    items = np.sort(rng.choice(ml_like.shape[1], 40, replace=False))  # 40 > factors / 2: the GEMM path
    values = rng.uniform(0.5, 1.5, 40).astype(np.float32)
    values[3] = -1.0  # a dislike: confidence |c|, preference 0
    long_row = sp.csr_matrix((values, (np.zeros(40, int), items)), shape=(1, ml_like.shape[1]))
    dense = model.recalculate_user(long_row)
    batch = sp.vstack([long_row] * 17).tocsr()  # a batch above 16 rows: implicit's kernel
    np.testing.assert_allclose(dense, model.recalculate_user(batch)[:1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dense, fold_in_numpy(long_row, model.item_factors, 0.5, 3.0), rtol=1e-3, atol=1e-4)
    short_row = sp.csr_matrix((values[:3], (np.zeros(3, int), items[:3])), shape=long_row.shape)
    mixed = sp.vstack([short_row, long_row]).tocsr()  # one row for each path
    np.testing.assert_allclose(model.recalculate_user(mixed)[1:], dense, rtol=1e-5, atol=1e-6)
    kernel = model.recalculate_user(sp.vstack([short_row] * 17).tocsr())[:1]
    np.testing.assert_allclose(model.recalculate_user(mixed)[:1], kernel, rtol=1e-5, atol=1e-6)


def test_als_fold_in_personalises_a_user_unseen_in_training():
    X, _, _ = tiny()
    model = ALS(factors=2, regularization=1.0, alpha=10.0, iterations=20, random_state=3).fit(X)
    ids, _ = model.recommend(row([2, 3], value=1.5), 2)
    assert set(ids.tolist()) <= set(A_ITEMS)


def test_bpr_fold_in_is_least_squares_on_item_factors(ml_like):
    model = BPR(factors=8, iterations=5, fold_in_regularization=0.3, fold_in_alpha=2.0).fit(ml_like)
    assert model.item_factors.shape == (120, 9)
    rows = ml_like[:10]
    np.testing.assert_allclose(model.recalculate_user(rows),
                               fold_in_numpy(rows, model.item_factors, 0.3, 2.0), rtol=1e-3, atol=1e-4)


# -- session ALS --------------------------------------------------------------------------

def test_session_rows_known_answer():
    from tastemaker.models.session_als import session_rows

    # user 0: items 0,1 at t=1000 and item 2 at t=1100; user 1: items 1,2 at t=1005
    T = sp.csr_matrix(np.array([[1000.0, 1000.0, 1100.0], [0.0, 1005.0, 1005.0]]))
    X = (T != 0).astype(np.float32).tocsr()
    Z = session_rows(X, T, (0.0, 200.0), (0.5, 2.0)).toarray()
    expected = [(0.5, 0.5, 0.0), (0.0, 0.0, 0.5), (0.0, 0.5, 0.5), (2.0, 2.0, 2.0), (0.0, 2.0, 2.0)]
    assert sorted(map(tuple, Z.tolist())) == sorted(expected)
    assert session_rows(X, None, (0.0,), (1.0,)).shape == (0, 3)
    assert session_rows(X, T, (0.0,), (0.0,)).shape == (0, 3)  # a zero weight adds nothing
    # only the pairs being fitted count: drop (0, 2) from X and its session disappears
    X2 = X.copy(); X2[0, 2] = 0; X2.eliminate_zeros()
    assert sorted(map(tuple, session_rows(X2, T, (0.0,), (1.0,)).toarray().tolist())) == [(0, 1, 1), (1, 1, 0)]


def test_session_als_is_als_on_the_stacked_matrix():
    from tastemaker.models.session_als import SessionALS, session_rows

    X, T, _ = tiny()
    params = {"factors": 3, "regularization": 0.5, "alpha": 5.0, "iterations": 10, "random_state": 1}
    plain = ALS(**params).fit(X)
    no_time = SessionALS(**params, session_gaps=(60.0,), session_weights=(0.5,)).fit(X)
    np.testing.assert_array_equal(no_time.item_factors, plain.item_factors)  # no timestamps: ALS
    s = SessionALS(**params, session_gaps=(60.0,), session_weights=(0.5,)).fit(X, timestamps=T)
    Z = session_rows(X, T, (60.0,), (0.5,))
    assert Z.shape[0] == 12  # tiny(): one event every 30 s, one session per user
    ref = ALS(**params).fit(sp.vstack([X, Z]).tocsr())
    np.testing.assert_allclose(s.item_factors, ref.item_factors, rtol=1e-5, atol=1e-6)
    assert not hasattr(s, "user_factors")  # serving folds rows in: no user factors are kept
    assert not np.allclose(s.item_factors, plain.item_factors)
    # serving is ALS's fold-in on the item factors
    np.testing.assert_allclose(s.score(X[:2]), fold_in_numpy(X[:2], s.item_factors, 0.5, 5.0) @ s.item_factors.T,
                               rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError):
        SessionALS(session_gaps=(0.0, 60.0), session_weights=(1.0,))
