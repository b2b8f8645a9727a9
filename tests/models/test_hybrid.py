"""models.hybrid: the blend of members, its weights learned on validation folds carved from the training data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tastemaker.models.als import ALS
from tastemaker.evaluation.splits import random_split
from tastemaker.models.content import TfidfContent
from tastemaker.models.ease import EASE
from tastemaker.models.hybrid import Hybrid, normalize_scores, scaled_clone
from tastemaker.models.itemknn import ItemKNN
from tastemaker.models.popularity_family import PopularityFamily

from tests.models.conftest_tiny import tiny


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
    # the hybrid holds out exactly as the evaluation protocol (a) does, at its default share
    k0, h0 = random_split(X, 0.4, 4)
    k1, h1 = random_split(X, 0.4, 5)
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


def test_weight_learning_cutoff_and_holdout_default_by_holdout_rule():
    from tastemaker.models.hybrid import DEFAULT_HOLDOUT, DEFAULT_K

    rules = ("random", "time", "last")
    assert {h: Hybrid(members={}, holdout_by=h).k for h in rules} == DEFAULT_K
    assert DEFAULT_K == {"random": 50, "time": 20, "last": 10}
    assert {h: Hybrid(members={}, holdout_by=h).holdout for h in rules} == DEFAULT_HOLDOUT
    assert DEFAULT_HOLDOUT["random"] == 0.4 and DEFAULT_HOLDOUT["time"] == 0.25
    assert Hybrid(members={}, holdout_by="last", k=15).k == 15  # an explicit k wins
    assert Hybrid(members={}, holdout_by="time", holdout=0.2).holdout == 0.2  # and an explicit share
    hybrid = Hybrid(members={}, holdout_by="last")
    assert hybrid.params["k"] is None and hybrid.params["holdout"] is None  # a clone re-resolves them


def test_a_member_does_not_change_what_the_others_are_validated_on():
    # binary input: ExplicitSVD once emptied the shared validation matrix in place, so every
    # member after it was judged with nothing seen (and the blend learned from that)
    from tastemaker.models.svd import ExplicitSVD

    rng = np.random.default_rng(3)
    X = sp.csr_matrix((rng.random((60, 30)) < 0.25).astype(np.float32))
    base = {"popularity": PopularityFamily(), "itemknn": ItemKNN(k=5, shrink=1.0)}
    alone = Hybrid(members=dict(base)).fit(X)
    with_svd = Hybrid(members={**base, "svd": ExplicitSVD(factors=2)}).fit(X)
    for name in base:
        assert with_svd.validation[f"member:{name}"] == pytest.approx(alone.validation[f"member:{name}"])
