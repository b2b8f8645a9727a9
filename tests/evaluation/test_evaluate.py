"""evaluate_model / evaluate_families / tune on tiny synthetic cases."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_info

from tastemaker.evaluation.evaluate import (
    evaluate_families,
    evaluate_model,
    recommend_top_k,
    tune,
)
from tastemaker.evaluation.splits import random_split

from .helpers import Popularity


def taste_matrix(n_users: int = 60, n_items: int = 80, seed: int = 0) -> sp.csr_matrix:
    """Users like items of their own cluster, plus a popular head: learnable structure."""
    rng = np.random.default_rng(seed)
    cluster_u, cluster_i = rng.integers(0, 4, n_users), rng.integers(0, 4, n_items)
    p = np.where(cluster_u[:, None] == cluster_i[None, :], 0.35, 0.03)
    p[:, :5] += 0.3
    return sp.csr_matrix((rng.random((n_users, n_items)) < p).astype(np.float32))


class Oracle:
    """Scores = the user's test row; finds the user from its (unique) train row."""

    def __init__(self, train: sp.csr_matrix, test: sp.csr_matrix):
        self.test = test
        self.lookup = {train[u].indices.tobytes(): u for u in range(train.shape[0])}
        assert len(self.lookup) == train.shape[0], "train rows must be unique"

    def fit(self, m: sp.csr_matrix) -> "Oracle":
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        users = [self.lookup[rows[i].indices.tobytes()] for i in range(rows.shape[0])]
        return self.test[users].toarray()


class RandomModel:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.seed = seed

    def fit(self, m: sp.csr_matrix) -> "RandomModel":
        self.n_items = m.shape[1]
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        return self.rng.random((rows.shape[0], self.n_items)).astype(np.float32)


def test_oracle_is_perfect_random_is_not():
    m = taste_matrix()
    train, test = random_split(m, 0.25, seed=0)
    oracle = evaluate_model(lambda: Oracle(train, test), train, test, k=10, batch_size=7)
    rand = evaluate_model(RandomModel, train, test, k=10)
    assert oracle["ndcg@10"] == pytest.approx(1.0)
    assert oracle["map@10"] == pytest.approx(1.0) and oracle["hit_rate@10"] == 1.0
    assert oracle["recall@10"] == pytest.approx(1.0)  # every user here has <= 10 test items
    assert rand["ndcg@10"] < 0.5 * oracle["ndcg@10"]
    pop = evaluate_model(Popularity, train, test, k=10)
    assert rand["ndcg@10"] < pop["ndcg@10"] < 1.0
    assert oracle["n_users"] == float((np.diff(test.indptr) > 0).sum())
    for key in ("precision@10", "mrr@10", "coverage@10", "novelty@10", "arp@10", "pop_lift@10",
                "fit_s", "score_s"):
        assert np.isfinite(oracle[key])


def test_max_users_scores_the_same_sample_for_every_model():
    m = taste_matrix()
    train, test = random_split(m, 0.25, seed=0)
    some = evaluate_model(Popularity, train, test, k=10, max_users=5)
    again = evaluate_model(Popularity, train, test, k=10, max_users=5)
    everyone = evaluate_model(Popularity, train, test, k=10)
    assert some["n_users"] == 5.0 < everyone["n_users"]
    assert some["ndcg@10"] == again["ndcg@10"]
    assert evaluate_model(lambda: Oracle(train, test), train, test, k=10, max_users=5)["ndcg@10"] == pytest.approx(1.0)


def test_seen_items_are_excluded():
    m = taste_matrix()
    train, _ = random_split(m, 0.25, seed=1)
    users = np.arange(train.shape[0])

    class LovesTrain:
        def score(self, rows):
            return rows.toarray() * 100 + np.linspace(0, 1, rows.shape[1], dtype=np.float32)

    topk = recommend_top_k(LovesTrain(), train, users, k=10, batch_size=16)
    assert not np.any([np.isin(topk[u], train[u].indices).any() for u in users])
    kept = recommend_top_k(LovesTrain(), train, users, k=3, exclude_train=False)
    assert all(np.isin(kept[u], train[u].indices).all() for u in users if train[u].nnz >= 3)
    # an extra mask (e.g. disliked items) removes those cells too
    best = recommend_top_k(LovesTrain(), train, users, k=1)[:, 0]
    disliked = sp.csr_matrix((np.ones(len(users)), (users, best)), shape=train.shape)
    second = recommend_top_k(LovesTrain(), train, users, k=1, exclude=disliked)[:, 0]
    assert not np.any(second == best)


def test_blas_threads_pinned_while_scoring():
    seen = []

    class Probe(Popularity):
        def score(self, rows):
            seen.extend(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
            return super().score(rows)

    m = taste_matrix()
    model = Probe().fit(m)
    recommend_top_k(model, m, np.arange(5), k=3, blas_threads=1)
    assert seen and set(seen) == {1}


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError):
        evaluate_model(Popularity, sp.csr_matrix((3, 4)), sp.csr_matrix((3, 5)))


def test_evaluate_families_mean_over_seeds_and_seed_passing():
    m = taste_matrix()
    seeds_seen = []

    def random_factory(seed: int) -> RandomModel:
        seeds_seen.append(seed)
        return RandomModel(seed)

    rows = evaluate_families({"pop": Popularity, "random": random_factory}, m, "random",
                             seeds=[0, 1, 2], k=5, item_features=np.eye(m.shape[1]))
    assert [r["family"] for r in rows] == ["pop", "random"]
    assert seeds_seen == [0, 1, 2]
    per_seed = [evaluate_model(Popularity, *random_split(m, 0.25, seed=s), k=5)["ndcg@5"]
                for s in (0, 1, 2)]
    assert rows[0]["ndcg@5"] == pytest.approx(np.mean(per_seed))
    assert rows[0]["ndcg@5_std"] == pytest.approx(np.std(per_seed))
    assert rows[0]["diversity@5"] == pytest.approx(1.0)  # one-hot features: all orthogonal
    assert rows[0]["ndcg@5"] > rows[1]["ndcg@5"]


def test_tune_never_sees_test_cells():
    m = taste_matrix()
    train, test = random_split(m, 0.25, seed=0)
    fitted = []

    class Spy(Popularity):
        def __init__(self, sign: float):
            self.sign = sign

        def fit(self, mat):
            fitted.append(mat.copy())
            super().fit(mat)
            self.counts = self.counts * self.sign
            return self

    result = tune(Spy, {"sign": [-1.0, 1.0]}, train, k=10)
    assert result.best_params == {"sign": 1.0}
    assert len(result.trials) == 2 and result.metric == "ndcg@10"
    for mat in fitted:
        assert mat.multiply(test).nnz == 0          # never a test cell
        assert (mat - mat.multiply(train)).nnz == 0  # only training cells
        assert mat.nnz < train.nnz                  # the validation cells were held out
    grid_list = tune(Spy, [{"sign": 1.0}], train, k=10)
    assert grid_list.best_params == {"sign": 1.0}


def test_evaluate_model_passes_event_times_to_time_aware_models():
    """Session-aware families (and the hybrid) get each training cell's event time."""
    got = {}

    class Latest:  # ranks items by their latest training event: needs the times
        uses_timestamps = True

        def fit(self, m, items=None, timestamps=None):
            got["ts"] = timestamps
            self.s = np.asarray(sp.csr_matrix(timestamps).max(axis=0).todense()).ravel()
            return self

        def score(self, rows):
            return np.tile(self.s, (rows.shape[0], 1)).astype(np.float32)

    train = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 1]], np.float32))
    times = sp.csr_matrix(np.array([[10, 20, 0, 0, 0], [0, 30, 90, 0, 0], [0, 0, 0, 50, 60]], np.float64))
    test = sp.csr_matrix(np.array([[0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0]], np.float32))
    res = evaluate_model(Latest, train, test, k=1, timestamps=times)
    # unseen item with the latest time: user 0 -> item 2 (t=90, a hit), user 1 -> item 4 (t=60,
    # a hit), user 2 -> item 2 (a miss: item 1 is their test item)
    assert res["hit_rate@1"] == pytest.approx(2 / 3)
    assert (got["ts"] != times).nnz == 0


def test_evaluate_families_hands_the_training_cells_times_to_time_aware_models():
    from tastemaker.datasets.interactions import InteractionData

    got = []

    class TimeAware:
        uses_timestamps = True

        def fit(self, m, items=None, timestamps=None):
            got.append((m, timestamps))
            return self

        def score(self, rows):
            return np.zeros(rows.shape, np.float32)

    m = sp.csr_matrix(np.ones((2, 4), np.float32))
    ts = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])  # aligned with m.data (row-major)
    data = InteractionData(["u", "v"], list("abcd"), m, timestamps=ts)
    evaluate_families({"t": TimeAware}, data, protocol="leave_last_out", seeds=[0], k=2)
    train, times = got[0]
    assert (times != 0).nnz == train.nnz == 6  # the latest item of each user went to test
    assert sorted(times.data.tolist()) == [1.0, 2.0, 3.0, 5.0, 6.0, 7.0]
    assert ((times != 0) != (train != 0)).nnz == 0
