"""ranking.features: the candidate feature matrix the ranker sees."""

from __future__ import annotations

import math

import numpy as np

from tastemaker.features.catalog import CatalogView
from tastemaker.features.item_index import ItemIndex
from tastemaker.features.user_state import UserState
from tastemaker.ranking.features import FEATURE_NAMES, candidate_features, source_scores
from tastemaker.rules.env import RuleEnv
from tastemaker.schema.records import Item

NOW = 1_700_000_000.0 - (1_700_000_000.0 % 86400) + 6 * 3600  # 06:00 UTC


def test_source_scores_align_with_candidates():
    parts = [("covisitation", 1.0, np.array([7, 3]), np.array([4.0, 2.0])),
             ("trending", 0.1, np.array([], np.int64), np.array([]))]
    out = source_scores(parts, np.array([3, 9, 7]))
    assert out["covisitation"].tolist() == [0.5, 0.0, 1.0] and out["trending"].tolist() == [0.0, 0.0, 0.0]


def test_feature_matrix():
    cat = CatalogView(ItemIndex())
    a = cat.upsert(Item(id="a", categories=["x"], price=math.e - 1, margin=0.2, created_at=NOW - 86400 * (math.e - 1)))
    b = cat.upsert(Item(id="b", categories=["y"]))
    user = UserState()
    user.affinity = {"x": 3.0, "y": 1.0}
    user.seen = {b}
    pop = np.array([10.0, 5.0, 100.0])  # the max among the candidates is the reference
    env = RuleEnv(cat, np.array([a, b]), NOW, user=user, item_columns={"popularity": pop, "trending": lambda: np.zeros(2)},
                  context={"device": "mobile"})
    X = candidate_features(env, np.array([2.0, 1.0]), {"covisitation": np.array([1.0, 0.0]), "trending": np.array([0.5, 0.5])})
    col = {n: X[:, j] for j, n in enumerate(FEATURE_NAMES)}
    assert X.shape == (2, len(FEATURE_NAMES))
    assert col["blend"].tolist() == [2.0, 1.0]
    assert col["source_covisitation"].tolist() == [1.0, 0.0] and col["source_user_model"].tolist() == [0.0, 0.0]
    assert col["n_sources"].tolist() == [2.0, 1.0]
    assert col["popularity"].tolist() == [1.0, 0.5] and col["trending"].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(col["age_log_days"][0], 1.0)
    np.testing.assert_allclose(col["price_log"][0], 1.0)
    assert math.isnan(col["price_log"][1]) and math.isnan(col["margin"][1])
    assert col["affinity"].tolist() == [0.75, 0.25] and col["seen"].tolist() == [0.0, 1.0]
    assert col["ctx_mobile"].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(col["hour_sin"], [1.0, 1.0], atol=1e-12)
    # a model trained on other columns gets them by name, NaN for unknown names
    Y = candidate_features(env, np.array([2.0, 1.0]), {}, names=("margin", "blend", "nope"))
    assert Y[:, 1].tolist() == [2.0, 1.0] and np.isnan(Y[:, 2]).all()


def test_without_user_or_context():
    cat = CatalogView(ItemIndex())
    cat.upsert(Item(id="a"))
    X = candidate_features(RuleEnv(cat, np.array([0]), NOW), np.array([1.0]), {})
    col = dict(zip(FEATURE_NAMES, X[0].tolist()))
    assert col["affinity"] == 0.0 and col["seen"] == 0.0 and col["ctx_mobile"] == 0.0 and math.isnan(col["popularity"])


def test_features_from_parts_equal_features_from_source_scores():
    """The fused source rows (one scatter for every source) give the matrix of
    source_scores + candidate_features: repeated items keep their last entry, items outside
    the pool are ignored, a source whose best score is 0 is not scaled."""
    from tastemaker.ranking.features import candidate_features_from_parts

    rng = np.random.default_rng(3)
    cat = CatalogView(ItemIndex())
    for i in range(50):
        cat.upsert(Item(id=f"i{i}", categories=[f"c{i % 4}"], price=float(i), margin=0.1 * (i % 5),
                        created_at=NOW - 86400 * i))
    user = UserState()
    user.affinity = {"c1": 2.0, "c2": 1.0}
    user.seen = {3, 7, 11}
    pop = rng.random(50)
    for trial in range(100):
        pool = rng.choice(60, int(rng.integers(0, 30)), replace=False)  # some beyond the catalog
        parts = []
        for name in ("covisitation", "user_model", "trending", "unknown_source", "popular"):
            k = int(rng.integers(0, 25))
            scores = rng.random(k) * (0.0 if trial % 7 == 0 and name == "trending" else 3.0)
            parts.append((name, 1.0, rng.integers(0, 70, k), scores))  # repeats, items outside the pool
        env1 = RuleEnv(cat, pool, NOW, user=user, item_columns={"popularity": pop, "trending": pop[::-1].copy()})
        env2 = RuleEnv(cat, pool, NOW, user=user, item_columns={"popularity": pop, "trending": pop[::-1].copy()})
        blend = rng.random(len(pool))
        names = FEATURE_NAMES if trial % 3 else ("margin", "source_trending", "nope", "n_sources")
        want = candidate_features(env1, blend, source_scores(parts, np.asarray(pool, np.int64)), names)
        got = candidate_features_from_parts(env2, blend, parts, names)
        np.testing.assert_array_equal(got, want)


def test_stream_columns_come_from_the_servers_hook_and_stay_nan_without_it():
    from tastemaker.ranking.features import STREAM_HOOK
    index = ItemIndex()
    cat = CatalogView(index)
    for k in range(3):
        cat.upsert(Item(id=f"i{k}"))
    names = (*FEATURE_NAMES, "stream:item_ctr_1d", "stream:user_views_1h")
    seen: list = []

    def hook(wanted, items):
        seen.append((list(wanted), items.tolist()))
        return np.array([[0.5, 3.0], [0.25, 3.0]])

    env = RuleEnv(cat, np.array([2, 0]), now=0.0, item_columns={STREAM_HOOK: hook})
    X = candidate_features(env, np.ones(2), {}, names)
    assert X[:, -2:].tolist() == [[0.5, 3.0], [0.25, 3.0]]
    assert seen == [(["item_ctr_1d", "user_views_1h"], [2, 0])]
    bare = candidate_features(RuleEnv(cat, np.array([2, 0]), now=0.0), np.ones(2), {}, names)
    assert np.isnan(bare[:, -2:]).all()
    assert candidate_features(env, np.ones(2), {}).shape == (2, len(FEATURE_NAMES)) and len(seen) == 1
