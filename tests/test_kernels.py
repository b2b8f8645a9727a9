"""The compiled read-path loops against plain-Python references on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker.kernels import blend_parts, cut_rows, gather_rows, history_codes, screen_history


def reference_blend(parts: list[tuple[list[int], list[float]]], weights: list[float]) -> dict[int, tuple[float, int]]:
    sums: list[dict[int, float]] = []
    for items, scores in parts:
        acc: dict[int, float] = {}
        for item, score in zip(items, scores):
            acc[item] = acc.get(item, 0.0) + score
        sums.append(acc)
    every = {i for acc in sums for i in acc}
    scale = []
    for acc, w in zip(sums, weights):
        peak = max([acc.get(i, 0.0) for i in every], default=0.0)
        scale.append(w / (peak if peak > 0 else 1.0))
    out = {}
    for item in every:
        values = [acc.get(item, 0.0) * s for acc, s in zip(sums, scale)]
        out[item] = (sum(values), int(np.argmax(values)))
    return out


# scores are 0 or normal floats (a subnormal peak overflows the scale, as in any max-normalisation)
part = st.lists(st.tuples(st.integers(0, 30), st.one_of(st.just(0.0), st.floats(1e-6, 10.0))), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.lists(part, min_size=1, max_size=5), st.data())
def test_blend_parts_matches_reference(raw_parts, data) -> None:
    weights = data.draw(st.lists(st.floats(0.0, 3.0), min_size=len(raw_parts), max_size=len(raw_parts)))
    parts = [([i for i, _ in p], [s for _, s in p]) for p in raw_parts]
    slot = np.full(40, -1, np.int64)
    uniq, blended, best = blend_parts(np.array([i for p in parts for i in p[0]], np.int64),
                                      np.array([s for p in parts for s in p[1]]),
                                      np.array([len(p[0]) for p in parts], np.int64), np.array(weights), slot)
    expected = reference_blend(parts, weights)
    assert sorted(uniq.tolist()) == sorted(expected)
    assert len(set(uniq.tolist())) == len(uniq)
    for item, score, source in zip(uniq.tolist(), blended, best):
        assert score == pytest.approx(expected[item][0], rel=1e-12, abs=1e-12)
        assert source == expected[item][1]
    assert (slot == -1).all()  # the scratch is clean for the next request


def test_blend_parts_first_appearance_order_and_ties() -> None:
    slot = np.full(10, -1, np.int64)
    uniq, blended, best = blend_parts(np.array([7, 2, 2, 9]), np.array([1.0, 1.0, 1.0, 2.0]),
                                      np.array([2, 2]), np.array([1.0, 1.0]), slot)
    assert uniq.tolist() == [7, 2, 9]
    # part 0: 7 -> 1, 2 -> 1 (peak 1); part 1: 2 -> 1, 9 -> 2 (peak 2)
    assert blended.tolist() == [1.0, 1.5, 1.0]
    assert best.tolist() == [0, 0, 1]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 25), st.integers(0, 2**31 - 1), st.integers(1, 12))
def test_gather_rows_matches_numpy(n_items, seed, per_item) -> None:
    rng = np.random.default_rng(seed)
    m = sp.random(n_items, n_items, density=0.4, format="csr", random_state=rng, dtype=np.float32)
    seeds = rng.integers(0, n_items, size=rng.integers(1, 6))
    factors = rng.random(len(seeds))
    row_sums = rng.random(n_items) + 0.1
    idx, val = gather_rows(m.indptr, m.indices, m.data, seeds.astype(np.int64), factors, per_item, row_sums)
    exp_idx = np.concatenate([m.indices[m.indptr[s]:m.indptr[s + 1]][:per_item] for s in seeds])
    exp_val = np.concatenate([m.data[m.indptr[s]:m.indptr[s + 1]][:per_item] * f for s, f in zip(seeds, factors)])
    assert idx.tolist() == exp_idx.tolist()
    np.testing.assert_allclose(val, exp_val / np.sqrt(row_sums[exp_idx]), rtol=1e-12)


def test_history_codes_excluded_wins_and_scratch_is_cleared() -> None:
    marks = np.zeros(6, np.uint8)
    codes = history_codes(np.array([0, 1, 2, 3, 10]), np.array([1, 3]), np.array([1, 2]), marks)
    assert codes.tolist() == [0, 2, 1, 2, 0]  # 1 is both: excluded; 10 is past the scratch: neither
    assert not marks.any()


def test_screen_history_keeps_order_applies_mask_and_penalty() -> None:
    marks = np.zeros(8, np.uint8)
    keep, scores = screen_history(np.array([5, 1, 2, 3]), np.array([4.0, 3.0, 2.0, 1.0]),
                                  np.array([True, True, True, False]), np.array([1]), np.array([2, 3]), 0.25, marks)
    assert keep.tolist() == [0, 2]  # 1 excluded, 3 masked out
    assert scores.tolist() == [4.0, 0.5]
    assert not marks.any()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 8))
def test_cut_rows_equals_cutting_the_summed_levels(seed, k) -> None:
    from tastemaker.features.covisitation_cut import cut

    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 12, 3)  # levels of different heights, as the LSM has
    levels = [sp.random(n, 12, density=0.3, format="csr", random_state=rng) for n in sizes]
    for level in levels:  # integer-valued weights: ties are common, as with counts
        level.data = np.ceil(level.data * 3)
    total = sum(sp.csr_matrix((lv.data, lv.indices, np.concatenate([lv.indptr, np.full(12 - lv.shape[0], lv.nnz)])),
                              shape=(12, 12)) for lv in levels)
    rows = np.sort(rng.choice(12, size=int(rng.integers(1, 12)), replace=False))
    indptr, indices, data = cut_rows(rows, k, *(a for lv in levels for a in (lv.indptr, lv.indices, lv.data)))
    expected = cut(sp.csr_matrix(total), k)
    for j, row in enumerate(rows):
        got = list(zip(indices[indptr[j]:indptr[j + 1]].tolist(), data[indptr[j]:indptr[j + 1]].tolist()))
        want = list(zip(expected.indices[expected.indptr[row]:expected.indptr[row + 1]].tolist(),
                        expected.data[expected.indptr[row]:expected.indptr[row + 1]].tolist()))
        assert got == want
