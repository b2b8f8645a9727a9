"""ranking.calibration: the list's category mix follows the user's history."""

from __future__ import annotations

import numpy as np

from tastemaker.ranking.calibration import calibrate, target_distribution


def test_mix_follows_the_target():
    rel = np.linspace(1.0, 0.5, 10)
    cats = np.zeros((10, 2))
    cats[:7, 0] = 1  # the seven most relevant are all category 0
    cats[7:, 1] = 1
    target = np.array([0.6, 0.4])
    order = calibrate(rel, cats, target, k=5, weight=0.9)
    share = cats[order[:5]].mean(axis=0)
    assert share.tolist() == [0.6, 0.4]
    assert calibrate(rel, cats, target, k=5, weight=0.0).tolist() == list(range(10))
    assert sorted(order.tolist()) == list(range(10))


def test_target_from_affinity():
    vocab = {"a": 0, "b": 1, "c": 2}
    assert target_distribution({"a": 3.0, "b": 1.0, "z": 5.0}, vocab).tolist() == [0.75, 0.25, 0.0]
    assert target_distribution({}, vocab).tolist() == [0.0, 0.0, 0.0]
    rel = np.array([1.0, 0.5])
    assert calibrate(rel, np.eye(2), np.zeros(2), k=2, weight=1.0).tolist() == [0, 1]  # no history: unchanged


def test_code_form_matches_the_matrix_form():
    from tastemaker.ranking.calibration import calibrate_codes, target_by_code

    rng = np.random.default_rng(3)
    for _ in range(20):
        n, c = 30, 5
        codes = rng.integers(-1, c, n)
        rel = rng.random(n)
        onehot = np.zeros((n, c))
        onehot[codes >= 0, codes[codes >= 0]] = 1
        target = rng.random(c) * (rng.random(c) > 0.3)
        if not target.any():
            continue
        target /= target.sum()
        support = np.flatnonzero(target)
        expect = calibrate(rel, onehot, target, k=8, weight=0.6)
        got = calibrate_codes(rel, codes, support, target[support], k=8, weight=0.6)
        assert got.tolist() == expect.tolist()
    codes, shares = target_by_code({"a": 1.0, "b": 3.0, "zz": 2.0, "c": 0.0}, {"a": 4, "b": 9, "c": 1})
    assert codes.tolist() == [4, 9] and shares.tolist() == [0.25, 0.75]
