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
