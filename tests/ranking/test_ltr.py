"""ranking.ltr: labels from logged impressions without leakage; a ranker that finds a known
answer on a synthetic log, beats a useless blend, and saves/loads."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.ranking.features import FEATURE_NAMES
from tastemaker.ranking.ltr import (Impression, LTRRanker, Outcome, build_training_set, choose_ranker, ndcg_at_k,
                                    time_split)

F = len(FEATURE_NAMES)
COVIS = FEATURE_NAMES.index("source_covisitation")
BLEND = FEATURE_NAMES.index("blend")


def imp(rid, ts, items, user="u", placement="home", X=None):
    return Impression(rid, user, placement, ts, list(items), np.zeros((len(items), F)) if X is None else X)


def test_labels_respect_time_and_window():
    imps = [imp("r1", 100.0, "abc"), imp("r2", 200.0, "abd"), imp("r3", 950.0, "ab")]
    outs = [
        Outcome("u", "a", "click", 150.0, "r1"),       # labelled 1
        Outcome("u", "b", "purchase", 160.0, "r1"),    # labelled 3
        Outcome("u", "b", "click", 170.0, "r1"),       # the best outcome wins: stays 3
        Outcome("u", "c", "click", 50.0, "r1"),        # before the impression: ignored
        Outcome("u", "d", "click", 400.0, "r2"),       # after the 100 s window: ignored
        Outcome("u", "d", "add_to_cart", 250.0),       # unlinked: the latest earlier impression showing d
        Outcome("u", "a", "view", 210.0, "r2"),        # not a labelled type
        Outcome("u", "a", "click", 960.0, "r3"),       # r3's window is still open at the cutoff
    ]
    data = build_training_set(imps, outs, cutoff=1000.0, window_s=100.0)
    assert data.group.tolist() == [3, 3] and data.ts.tolist() == [100.0, 200.0]
    assert data.y.tolist() == [1, 3, 0, 0, 0, 2]
    data = build_training_set(imps, outs, cutoff=1000.0, window_s=100.0, keep_unlabelled=True, placement="home")
    assert data.lists() == 2  # r3 still excluded: its labels are not final at the cutoff
    assert build_training_set(imps, outs, cutoff=1000.0, window_s=100.0, placement="cart").lists() == 0


def test_outcomes_after_the_cutoff_never_count():
    imps = [imp("r1", 100.0, "ab")]
    outs = [Outcome("u", "a", "click", 150.0, "r1"), Outcome("u", "b", "purchase", 190.0, "r1")]
    assert build_training_set(imps, outs, cutoff=180.0, window_s=50.0).y.tolist() == [1, 0]


def test_logged_features_are_used_and_realigned():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    old = Impression("r", "u", "home", 0.0, ["a", "b"], X, feature_names=("margin", "blend"))
    data = build_training_set([old], [Outcome("u", "a", "click", 1.0, "r")], cutoff=10.0, window_s=5.0)
    assert data.X[:, BLEND].tolist() == [2.0, 4.0]
    assert np.isnan(data.X[:, COVIS]).all()


def synthetic_log(lists: int, seed: int = 0) -> tuple[list[Impression], list[Outcome]]:
    """Users click exactly the items whose co-visitation score exceeds 0.8; the blend is noise."""
    rng = np.random.default_rng(seed)
    imps, outs = [], []
    for r in range(lists):
        X = rng.random((20, F))
        items = [f"i{r}-{j}" for j in range(20)]
        imps.append(Impression(f"r{r}", f"u{r % 50}", "home", float(r), items, X))
        for j in np.flatnonzero(X[:, COVIS] > 0.8):
            outs.append(Outcome(f"u{r % 50}", items[j], "purchase" if X[j, COVIS] > 0.9 else "click", r + 0.5, f"r{r}"))
    return imps, outs


def test_ranker_learns_the_known_answer_and_beats_the_blend(tmp_path):
    imps, outs = synthetic_log(600)
    data = build_training_set(imps, outs, cutoff=1e9, window_s=10.0)
    train, valid = time_split(data, 0.25)
    assert train.ts.max() < valid.ts.min()
    ranker = LTRRanker.train(train, valid, rounds=40)
    ndcg = ndcg_at_k(ranker.score(valid.X), valid.y, valid.group)
    assert ndcg > 0.97
    assert ndcg_at_k(valid.X[:, BLEND], valid.y, valid.group) < 0.6
    imp_ = ranker.importance()
    assert max(imp_, key=imp_.get) == "source_covisitation"
    loaded = LTRRanker.from_bytes(ranker.to_bytes())
    np.testing.assert_allclose(loaded.score(valid.X[:50]), ranker.score(valid.X[:50]))
    np.testing.assert_allclose(ranker.score(valid.X[:30]), ranker.booster.predict(valid.X[:30]))
    assert loaded.feature_names == FEATURE_NAMES and ranker.score(np.zeros((0, F))).shape == (0,)

    choice = choose_ranker(data, min_groups=100, rounds=40)
    assert choice.ranker is not None and choice.report["winner"] == "ltr"
    assert choice.report["ndcg@10_ltr"] > choice.report["ndcg@10_blend"]


def test_blend_serves_when_data_is_short_or_the_blend_is_better():
    imps, outs = synthetic_log(50)
    data = build_training_set(imps, outs, cutoff=1e9, window_s=10.0)
    choice = choose_ranker(data, min_groups=200)
    assert choice.ranker is None and "fewer than 200" in choice.report["reason"]
    # when the blend is the right answer, the ranker has nothing to add: the blend keeps serving
    for i in imps:
        i.features[:, BLEND] = i.features[:, COVIS]
    data = build_training_set(imps, outs, cutoff=1e9, window_s=10.0)
    choice = choose_ranker(data, min_groups=10, rounds=5)
    assert choice.report["ndcg@10_blend"] == pytest.approx(1.0) and choice.report["winner"] == "blend"


def test_ndcg():
    y = np.array([0, 1, 0, 0])
    assert ndcg_at_k(np.array([0.0, 1.0, 0.5, 0.2]), y, np.array([4])) == 1.0
    assert ndcg_at_k(np.array([1.0, 0.0, 0.5, 0.2]), y, np.array([4])) == pytest.approx(1 / np.log2(5))
    assert np.isnan(ndcg_at_k(np.zeros(2), np.zeros(2, int), np.array([2])))
