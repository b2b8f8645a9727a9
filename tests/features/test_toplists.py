"""features.toplists: cached top-k lists with a time-to-live."""

from __future__ import annotations

import numpy as np

from tastemaker.features.toplists import KEEP, TopListCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_top_known_answer_positive_scores_only():
    cache = TopListCache(ttl=10, clock=Clock())
    ids, scores = cache.top("x", lambda: np.array([0.1, 0.9, 0.0, 0.5, -1.0]), 10)
    assert ids.tolist() == [1, 3, 0]
    assert scores.tolist() == [0.9, 0.5, 0.1]


def test_ties_keep_index_order():
    cache = TopListCache(ttl=10, clock=Clock())
    ids, _ = cache.top("x", lambda: np.array([1.0, 2.0, 1.0, 2.0]), 4)
    assert ids.tolist() == [1, 3, 0, 2]


def test_mask_filters_before_ranking():
    cache = TopListCache(ttl=10, clock=Clock())
    ids, _ = cache.top("x", lambda: np.array([3.0, 2.0, 1.0]), 2, mask=lambda: np.array([False, True, True, True]))
    assert ids.tolist() == [1, 2]


def test_lists_are_cached_for_ttl_seconds():
    clock = Clock()
    cache = TopListCache(ttl=1.0, clock=clock)
    scores = np.array([1.0, 2.0])
    calls = []

    def compute():
        calls.append(1)
        return scores.copy()

    assert cache.top("x", compute, 2)[0].tolist() == [1, 0]
    scores[:] = [5.0, 1.0]
    clock.now = 1.0
    assert cache.top("x", compute, 2)[0].tolist() == [1, 0]  # stale but within ttl
    assert cache.top("x", compute, 1)[0].tolist() == [1]
    clock.now = 1.5
    assert cache.top("x", compute, 2)[0].tolist() == [0, 1]
    assert len(calls) == 2
    cache.clear()
    cache.top("x", compute, 2)
    assert len(calls) == 3


def test_names_are_separate_lists():
    cache = TopListCache(ttl=100, clock=Clock())
    cache.top("a", lambda: np.array([1.0, 2.0]), 2)
    assert cache.top("b", lambda: np.array([2.0, 1.0]), 2)[0].tolist() == [0, 1]


def test_long_requests_recompute_beyond_keep():
    cache = TopListCache(ttl=100, clock=Clock())
    values = np.arange(1, KEEP + 501, dtype=float)
    ids, _ = cache.top("x", lambda: values, 10)
    assert ids.tolist() == list(range(KEEP + 499, KEEP + 489, -1))
    ids, scores = cache.top("x", lambda: values, KEEP + 200)
    assert len(ids) == KEEP + 200 and scores[0] == KEEP + 500
    assert np.all(np.diff(scores) < 0)
