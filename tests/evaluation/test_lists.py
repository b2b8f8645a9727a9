"""evaluation.lists: the per-placement list metrics."""

from __future__ import annotations

import numpy as np

from tastemaker.evaluation.lists import list_metrics


def test_list_metrics():
    topk = np.array([[0, 1, 2], [0, 1, -1]])
    feats = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    m = list_metrics(topk, 4, features=feats, popularity=np.array([1.0, 0.5, 0.0, 0.0]), providers=np.array([0, 0, 1, 1]))
    assert m["coverage"] == 0.75
    assert 0 < m["intra_list_diversity"] < 1
    assert m["popularity_bias"] == (0.5 + 0.75) / 2
    assert 0 < m["exposure_gini"] < 1 and 0 < m["provider_exposure_gini"] < 1
    assert set(list_metrics(topk, 4)) == {"coverage", "exposure_gini"}
