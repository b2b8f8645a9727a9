"""tastemaker.candidates: the candidate table and the blend of sources."""

from __future__ import annotations

import numpy as np
import pytest

from tastemaker.candidates import Candidates, merge


def arr(*values, dtype=np.float64):
    return np.array(values, dtype=dtype)


def test_merge_known_answer():
    merged = merge([
        ("a", 1.0, arr(0, 1, dtype=np.int64), arr(2.0, 1.0)),  # normalised: 1.0, 0.5
        ("b", 0.6, arr(1, 2, dtype=np.int64), arr(4.0, 4.0)),  # normalised: 0.6, 0.6
    ])
    merged = merged.top(3)
    assert merged.items.tolist() == [1, 0, 2]
    np.testing.assert_allclose(merged.scores, [0.5 + 0.6, 1.0, 0.6])
    assert merged.sources.tolist() == ["b", "a", "b"]  # the strongest contributor


def test_normalisation_is_per_source():
    # the same shape at different scales blends identically
    small = merge([("a", 1.0, arr(0, 1, dtype=np.int64), arr(0.02, 0.01)), ("b", 1.0, arr(2, dtype=np.int64), arr(0.5))])
    large = merge([("a", 1.0, arr(0, 1, dtype=np.int64), arr(200.0, 100.0)), ("b", 1.0, arr(2, dtype=np.int64), arr(9e9))])
    small, large = small.top(3), large.top(3)
    np.testing.assert_allclose(small.scores, large.scores)
    np.testing.assert_allclose(small.scores, [1.0, 1.0, 0.5])


def test_weights_scale_contributions():
    merged = merge([("a", 2.0, arr(0, dtype=np.int64), arr(3.0)), ("b", 0.5, arr(1, dtype=np.int64), arr(3.0))]).top(2)
    np.testing.assert_allclose(merged.scores, [2.0, 0.5])


def test_empty_and_zero_sources():
    assert len(merge([])) == 0
    assert len(merge([("a", 1.0, arr(dtype=np.int64), arr())])) == 0
    merged = merge([("a", 1.0, arr(dtype=np.int64), arr()), ("z", 1.0, arr(5, 6, dtype=np.int64), arr(0.0, 0.0))])
    assert sorted(merged.items.tolist()) == [5, 6] and merged.scores.tolist() == [0.0, 0.0]
    assert merged.sources.tolist() == ["z", "z"]


def test_items_repeated_within_a_source_add_up():
    merged = merge([("a", 1.0, arr(3, 4, 3, dtype=np.int64), arr(1.0, 1.0, 1.0))]).top(5)
    # item 3 sums to 2.0, the source's peak; normalisation follows the sum
    assert merged.items.tolist() == [3, 4] and merged.scores.tolist() == [1.0, 0.5]


def test_top_orders_by_score_then_index():
    c = Candidates(arr(5, 3, 9, 1, dtype=np.int64), arr(0.5, 0.9, 0.5, 0.1), np.array(list("abcd"), dtype=object))
    top = c.top(3)
    assert top.items.tolist() == [3, 5, 9]
    assert top.sources.tolist() == ["b", "a", "c"]
    assert len(c.top(10)) == 4


def test_keep_and_empty():
    c = Candidates(arr(1, 2, dtype=np.int64), arr(0.1, 0.2), np.array(["a", "b"], dtype=object), {"a": [7]})
    kept = c.keep(np.array([False, True]))
    assert kept.items.tolist() == [2] and kept.sources.tolist() == ["b"] and kept.because == {"a": [7]}
    empty = Candidates.empty()
    assert len(empty) == 0 and empty.items.dtype == np.int64


@pytest.mark.parametrize("seed", range(5))
def test_merge_matches_a_dict_model(seed):
    rng = np.random.default_rng(seed)
    # items may repeat within a source (co-visitation of several seeds)
    parts = [(f"s{k}", float(rng.uniform(0.1, 2)), rng.integers(0, 30, 12).astype(np.int64), rng.uniform(0.1, 5, 12))
             for k in range(4)]
    expected: dict[int, float] = {}
    label: dict[int, tuple[float, str]] = {}
    for name, w, items, scores in parts:
        summed: dict[int, float] = {}
        for i, v in zip(items.tolist(), scores.tolist()):
            summed[i] = summed.get(i, 0.0) + v
        peak = max(summed.values())
        for i, v in summed.items():
            expected[i] = expected.get(i, 0.0) + w * v / peak
            if w * v / peak > label.get(i, (-1.0, ""))[0]:
                label[i] = (w * v / peak, name)
    for _ in range(2):  # the scratch board is clean again after each merge
        merged = merge(parts)
        got = dict(zip(merged.items.tolist(), merged.scores.tolist()))
        assert got.keys() == expected.keys() and len(merged) == len(expected)
        np.testing.assert_allclose([got[i] for i in expected], list(expected.values()))
        assert dict(zip(merged.items.tolist(), merged.sources.tolist())) == {i: n for i, (_, n) in label.items()}
