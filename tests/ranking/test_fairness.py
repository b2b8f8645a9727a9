"""ranking.fairness: minimum exposure shares, the popularity discount, Gini."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.ranking.fairness import ensure_min_exposure, exposure, exposure_gini, gini, popularity_discount


def test_min_exposure_promotes_the_groups_best_items():
    labels = np.array(["A", "A", "A", "A", "B", "C", "B"], dtype=object)
    out = ensure_min_exposure(np.arange(7), labels, {"B": 0.5}, n=4)
    top = out[:4].tolist()
    assert sorted(labels[top].tolist()).count("B") == 2 and top == [0, 1, 4, 6]
    assert sorted(out.tolist()) == list(range(7))


def test_min_exposure_respects_other_minimums_and_availability():
    labels = np.array(["A", "B", "A", "C"], dtype=object)
    # B and A both need one of two slots; C waits with nothing to displace
    assert ensure_min_exposure(np.arange(4), labels, {"A": 0.5, "B": 0.5, "C": 0.5}, n=2).tolist()[:2] == [0, 1]
    # a group with fewer candidates than its share gets what it has
    out = ensure_min_exposure(np.arange(4), labels, {"C": 1.0}, n=3)
    assert out.tolist()[:3] == [0, 1, 3]
    assert ensure_min_exposure(np.arange(3), labels[:3], {}, n=2).tolist() == [0, 1, 2]


def test_popularity_discount():
    scores = np.array([1.0, 1.0, 1.0])
    pop = np.array([100.0, 10.0, np.nan])
    out = popularity_discount(scores, pop, strength=0.5)
    assert out[0] < out[1] < out[2]
    assert popularity_discount(scores, pop, 0.0) is scores


def test_gini_and_exposure():
    assert gini(np.ones(5)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)
    assert gini(np.zeros(3)) == 0.0
    topk = np.array([[0, 1], [0, -1]])
    assert exposure(topk, 3).tolist() == pytest.approx([2.0, 1 / np.log2(3), 0.0])
    equal = exposure_gini(np.array([[0, 1], [1, 0]]), 2)
    skewed = exposure_gini(np.array([[0, 1], [0, 1]]), 4)
    assert equal < skewed
    assert exposure_gini(topk, 3, groups=np.array([0, 0, 1])) > 0
