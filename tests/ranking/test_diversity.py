"""ranking.diversity: MMR picks, the λ extremes, catalog category features."""

from __future__ import annotations

import numpy as np

from tastemaker.features.catalog import CatalogView
from tastemaker.features.item_index import ItemIndex
from tastemaker.ranking.diversity import category_features, dpp, embedding_features, mmr, normalise, unit_rows
from tastemaker.rules.env import RuleEnv
from tastemaker.schema.records import Item


def test_lambda_extremes_and_interleaving():
    rel = np.array([1.0, 0.95, 0.9, 0.85, 0.8, 0.1])
    f = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0.7, 0.7]], dtype=float)
    assert mmr(rel, f, k=4, diversity=0.0).tolist() == [0, 1, 2, 3, 4, 5]
    assert mmr(rel, f, k=4, diversity=0.3).tolist()[:2] == [0, 3]  # the best of the other cluster next
    order = mmr(rel, f, k=6, diversity=1.0).tolist()
    assert order[:2] == [0, 3] and sorted(order) == list(range(6))
    # a permutation whatever k, the tail in relevance order
    assert mmr(rel, f, k=2, diversity=0.5).tolist() == [0, 3, 1, 2, 4, 5]


def test_degenerate_inputs():
    assert mmr(np.array([1.0]), np.ones((1, 2)), k=5, diversity=0.5).tolist() == [0]
    assert mmr(np.array([2.0, 3.0]), np.zeros((2, 2)), k=2, diversity=0.5).tolist() == [1, 0]
    assert normalise(np.array([2.0, 2.0])).tolist() == [1.0, 1.0]
    assert unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist() == [[0.6, 0.8], [0.0, 0.0]]


def test_precomputed_similarity():
    rel = np.array([1.0, 0.9, 0.8])
    sim = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=float)
    assert mmr(rel, None, k=2, diversity=0.5, similarity=sim).tolist() == [0, 2, 1]  # type: ignore[arg-type]


def test_catalog_features():
    cat = CatalogView(ItemIndex())
    for i, cats in enumerate([["a"], ["a", "b"], [], ["c"]]):
        cat.upsert(Item(id=str(i), categories=cats))
    env = RuleEnv(cat, np.array([3, 1, 2]), 0.0)
    feats, vocab = category_features(env)
    assert vocab == {"c": 0, "a": 1, "b": 2}
    assert feats.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    emb = np.arange(6, dtype=float).reshape(3, 2)
    assert embedding_features(env, emb).tolist() == [[0, 0], [2, 3], [4, 5]]


def _codes_and_one_hot(seed: int, n: int, groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random group codes (-1: no group), the same as one-hot rows, and random relevance."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(-1, groups, n)
    onehot = np.zeros((n, groups))
    onehot[codes >= 0, codes[codes >= 0]] = 1
    return codes, onehot, rng.random(n)


def test_group_codes_match_one_hot_rows():
    codes, onehot, rel = _codes_and_one_hot(1, 40, 4)
    for lam in (0.2, 0.5, 0.9):
        assert mmr(rel, codes, 10, lam).tolist() == mmr(rel, onehot, 10, lam).tolist()


def test_mean_penalty():
    import pytest

    rel = np.array([1.0, 0.9, 0.85, 0.8])
    f = np.array([[1, 0], [1, 0], [0.6, 0.8], [0, 1]], dtype=float)
    # max: item 2 is close to nothing picked after 0 and 3 ... mean: same first pick, a permutation always
    for penalty in ("max", "mean"):
        order = mmr(rel, f, 3, 0.5, penalty=penalty)
        assert order[0] == 0 and sorted(order.tolist()) == [0, 1, 2, 3]
    assert mmr(rel, f, 3, 0.5, penalty="max").tolist() != mmr(rel, f, 3, 0.0, penalty="max").tolist()
    with pytest.raises(ValueError):
        mmr(rel, f, 3, 0.5, penalty="min")


A, B = [1.0, 0.0], [0.0, 1.0]


def test_sum_penalty_known_answer():
    # after 0 (A) and 1 (B): item 2 (A) is as close as can be to one pick, item 3 (A+B) half-close
    # to both: max penalises 2 more, sum (what ILD counts) penalises 3 more
    rel = np.array([1.0, 0.9, 0.8, 0.75])
    f = np.array([A, B, A, [1.0, 1.0]])
    assert mmr(rel, f, 3, 0.5, penalty="max").tolist() == [0, 1, 3, 2]
    assert mmr(rel, f, 3, 0.5, penalty="sum").tolist() == [0, 1, 2, 3]


def test_relevance_order_and_scale():
    rel = np.array([1.0, 0.95, 0.9, 0.85])
    f = np.array([A, A, B, B])
    assert mmr(rel, f, 3, 0.5).tolist() == [0, 2, 1, 3]  # pick order
    assert mmr(rel, f, 3, 0.5, order="relevance").tolist() == [0, 1, 2, 3]  # same set, relevance order
    # min-max scaling makes 9.9 vs 10 a large gap; scale="none" keeps the raw (small relative) one
    raw = np.array([10.0, 9.9, 0.0])
    f3 = np.array([A, A, B])
    assert mmr(raw, f3, 2, 0.5).tolist() == [0, 2, 1]
    assert mmr(raw, f3, 2, 0.5, scale="none").tolist() == [0, 1, 2]
    import pytest

    with pytest.raises(ValueError):
        mmr(rel, f, 2, 0.5, order="pick")
    with pytest.raises(ValueError):
        dpp(rel, f, 2, 0.5, scale="rank")


def test_codes_follow_the_penalty():
    rng = np.random.default_rng(2)
    codes = rng.integers(-1, 4, 40)
    onehot = np.zeros((40, 4))
    onehot[codes >= 0, codes[codes >= 0]] = 1
    rel = rng.random(40)
    for penalty in ("mean", "sum"):
        for lam in (0.3, 0.7):
            got = mmr(rel, codes, 10, lam, penalty=penalty, order="relevance")
            assert got.tolist() == mmr(rel, onehot, 10, lam, penalty=penalty, order="relevance").tolist()


def _dpp_reference(rel, f, k, lam, jitter):
    """Greedy MAP by brute force: each step, the log-det gain of every candidate via slogdet."""
    unit = unit_rows(f)
    S = (1 - jitter) * unit @ unit.T
    np.fill_diagonal(S, 1.0)
    r = (1 - lam) * normalise(rel)
    picked: list[int] = []
    for _ in range(k):
        prev = np.linalg.slogdet(S[np.ix_(picked, picked)])[1] if picked else 0.0
        best, best_v = -1, -np.inf
        for i in range(len(rel)):
            if i in picked:
                continue
            y = picked + [i]
            v = r[i] + lam * (np.linalg.slogdet(S[np.ix_(y, y)])[1] - prev)
            if v > best_v + 1e-9:
                best, best_v = i, v
        picked.append(best)
    return picked


def test_dpp_matches_brute_force_greedy():
    rng = np.random.default_rng(5)
    for _ in range(10):
        rel = rng.random(20)
        f = (rng.random((20, 6)) < 0.3).astype(float)
        for lam, jitter in ((0.3, 0.2), (0.6, 0.05)):
            assert dpp(rel, f, 6, lam, jitter=jitter)[:6].tolist() == _dpp_reference(rel, f, 6, lam, jitter)


def test_dpp_extremes_and_permutation():
    rel = np.array([1.0, 0.95, 0.9, 0.85, 0.8, 0.1])
    f = np.array([A, A, A, B, B, [0.7, 0.7]])
    assert dpp(rel, f, 4, 0.0).tolist() == [0, 1, 2, 3, 4, 5]
    order = dpp(rel, f, 4, 0.5)
    assert order[:2].tolist() == [0, 3] and sorted(order.tolist()) == list(range(6))
    assert dpp(np.array([1.0]), np.ones((1, 2)), 3, 0.5).tolist() == [0]
    # a row of zeros is similar to nothing: picked as soon as diversity counts
    assert dpp(np.array([1.0, 0.9, 0.5]), np.array([A, A, [0.0, 0.0]]), 2, 0.5).tolist() == [0, 2, 1]


def test_ties_and_determinism():
    rel = np.ones(4)
    f = np.array([A, A, B, B])
    for penalty in ("max", "mean", "sum"):
        assert mmr(rel, f, 2, 0.5, penalty=penalty).tolist() == [0, 2, 1, 3]
    assert dpp(rel, f, 2, 0.5).tolist() == [0, 2, 1, 3]
    rng = np.random.default_rng(9)
    rel, f = rng.random(100), (rng.random((100, 19)) < 0.15).astype(float)
    for fn in (lambda: mmr(rel, f, 10, 0.5, penalty="sum", order="relevance"),
               lambda: dpp(rel, f, 10, 0.5, order="relevance")):
        first = fn()
        assert all(fn().tolist() == first.tolist() for _ in range(3))
        assert sorted(first.tolist()) == list(range(100))


def _swap_objective(rel, f, chosen, lam, ideal=None):
    """(1 - λ) * DCG / ideal + λ * ILD of ``chosen`` shown in relevance order."""
    chosen = sorted(chosen, key=lambda i: (-rel[i], i))
    k = len(chosen)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(rel[chosen] @ disc)
    unit = unit_rows(f[chosen])
    sim = unit @ unit.T
    ild = 1.0 - (sim.sum() - np.trace(sim)) / (k * (k - 1))
    return (1 - lam) * dcg / (disc.sum() if ideal is None else ideal) + lam * ild


def test_swap_known_answers():
    import pytest

    from tastemaker.ranking.diversity import swap

    rel = np.array([1.0, 0.9, 0.5, 0.45])
    f = np.array([A, A, A, B])
    # the B item replaces the bottom A (it loses 0.05 at discount 1/2), never the second one
    assert swap(rel, f, 3, 0.0).tolist() == [0, 1, 2, 3]
    assert swap(rel, f, 3, 0.3, scale="none").tolist() == [0, 1, 3, 2]
    # objective at λ 0.3: [0,1,2] scores 0.7 * 1.818 / 2.131 = 0.597, [0,1,3] 0.7 * 1.793 / 2.131 + 0.3 * 2/3
    assert _swap_objective(rel, f, [0, 1, 3], 0.3) > _swap_objective(rel, f, [0, 1, 2], 0.3)
    # a tiny λ keeps the list; a larger ideal makes relevance cheaper, so diversity wins sooner
    assert swap(rel, f, 3, 0.01, scale="none").tolist() == [0, 1, 2, 3]
    assert swap(rel, f, 3, 0.01, scale="none", ideal=0.1).tolist() == [0, 1, 2, 3]
    assert swap(rel, f, 3, 0.01, scale="none", ideal=10.0).tolist() == [0, 1, 3, 2]
    # k >= n or one row: relevance order
    assert swap(rel, f, 4, 0.9).tolist() == [0, 1, 2, 3]
    assert swap(np.array([1.0]), np.ones((1, 2)), 3, 0.5).tolist() == [0]
    with pytest.raises(ValueError):
        swap(rel, f, 2, 0.5, scale="rank")


def test_swap_is_a_local_optimum_and_matches_brute_force():
    from itertools import combinations

    from tastemaker.ranking.diversity import swap

    rng = np.random.default_rng(3)
    found_global = 0
    for trial in range(40):
        n, k = 8, 4
        rel = rng.random(n)
        f = (rng.random((n, 4)) < 0.4).astype(float)
        lam = float(rng.choice([0.2, 0.4, 0.6]))
        got = swap(rel, f, k, lam, scale="none")
        assert sorted(got.tolist()) == list(range(n))
        chosen = got[:k].tolist()
        assert chosen == sorted(chosen, key=lambda i: (-rel[i], i))  # listed in relevance order
        value = _swap_objective(rel, f, chosen, lam)
        assert value >= _swap_objective(rel, f, np.argsort(-rel)[:k].tolist(), lam) - 1e-12
        for out in chosen:  # no single swap improves it
            for into in set(range(n)) - set(chosen):
                other = [into if i == out else i for i in chosen]
                assert _swap_objective(rel, f, other, lam) <= value + 1e-9
        best = max(_swap_objective(rel, f, list(s), lam) for s in combinations(range(n), k))
        found_global += abs(best - value) < 1e-9
    assert found_global >= 36  # a local search: nearly always the exact optimum at this size


def test_swap_feature_forms_agree():
    from tastemaker.ranking.diversity import swap

    codes, onehot, rel = _codes_and_one_hot(4, 60, 5)
    unit = unit_rows(onehot)
    for lam in (0.1, 0.4, 0.8):
        want = swap(rel, onehot, 10, lam).tolist()
        assert swap(rel, codes, 10, lam).tolist() == want
        assert swap(rel, None, 10, lam, similarity=unit @ unit.T).tolist() == want
        # more λ, no less diversity (ILD of the ten)
        assert len(set(codes[want[:10]])) >= len(set(codes[np.argsort(-rel)[:10]]))


def test_docstring_examples():
    import doctest

    import tastemaker.ranking.diversity as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
