"""features.covisitation: symmetric counts, cosine-normalised neighbours, compaction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tastemaker.features.covisitation import CoVisitationIndex


def as_dict(cov: CoVisitationIndex, item: int) -> dict[int, float]:
    idx, val = cov.row(item)
    out: dict[int, float] = {}
    for i, v in zip(idx.tolist(), val.tolist()):
        out[i] = out.get(i, 0.0) + v
    return out


@pytest.fixture
def cov() -> CoVisitationIndex:
    index = CoVisitationIndex()
    index.add(0, [1, 2], 1.0)
    index.add(1, [2], 2.0)
    return index


def test_counts_are_symmetric(cov):
    assert as_dict(cov, 0) == {1: 1.0, 2: 1.0}
    assert as_dict(cov, 1) == {0: 1.0, 2: 2.0}
    assert as_dict(cov, 2) == {0: 1.0, 1: 2.0}
    np.testing.assert_array_equal(cov.row_sums[:3], [2.0, 3.0, 3.0])


def test_cosine_known_answer(cov):
    ids, scores = cov.neighbors(np.array([1]), np.array([1.0]), n=10)
    assert ids.tolist() == [2, 0]
    np.testing.assert_allclose(scores, [2 / math.sqrt(3 * 3), 1 / math.sqrt(3 * 2)])


def test_weighted_seeds_add_up(cov):
    ids, scores = cov.neighbors(np.array([0, 1]), np.array([1.0, 0.5]), n=10)
    expected = {
        2: 1 / math.sqrt(2 * 3) + 0.5 * 2 / math.sqrt(3 * 3),
        1: 1 / math.sqrt(2 * 3),
        0: 0.5 * 1 / math.sqrt(3 * 2),
    }
    assert ids.tolist() == [2, 1, 0]
    np.testing.assert_allclose(scores, [expected[i] for i in ids.tolist()])
    top_ids, top_scores = cov.neighbors(np.array([0, 1]), np.array([1.0, 0.5]), n=2)
    assert top_ids.tolist() == [2, 1]
    np.testing.assert_allclose(top_scores, scores[:2])


def test_normalisation_damps_blockbusters():
    cov = CoVisitationIndex()
    for other in range(10, 60):  # item 1 is co-visited with everything
        cov.add(1, [other], 1.0)
    cov.add(0, [1], 2.0)
    cov.add(0, [2], 1.0)
    ids, scores = cov.neighbors(np.array([0]), np.array([1.0]), n=2)
    assert ids.tolist() == [2, 1]  # raw count favours 1, cosine favours the specific neighbour


def test_nothing_to_add():
    cov = CoVisitationIndex()
    cov.add(0, [], 1.0)
    cov.add(0, [1], 0.0)
    cov.add(0, [1], -1.0)
    assert cov.nnz() == 0
    ids, scores = cov.neighbors(np.array([0, 5]), np.array([1.0, 1.0]), n=3)
    assert len(ids) == 0 and len(scores) == 0
    assert len(cov.row(1000)[0]) == 0


def test_compact_preserves_neighbors_exactly(cov):
    cov.add(3, [0, 2], 0.5)
    queries = [(np.array([s]), np.array([1.0])) for s in range(4)] + [(np.array([0, 3]), np.array([1.0, 0.25]))]
    before = [cov.neighbors(items, weights, n=10) for items, weights in queries]
    rows_before = [as_dict(cov, i) for i in range(4)]
    nnz = cov.nnz()
    cov.compact()
    assert cov.delta == {} and cov.delta_size == 0
    assert cov.nnz() == nnz == cov.base.nnz
    for (items, weights), (ids, scores) in zip(queries, before):
        ids2, scores2 = cov.neighbors(items, weights, n=10)
        np.testing.assert_array_equal(ids2, ids)
        np.testing.assert_array_equal(scores2, scores)
    assert [as_dict(cov, i) for i in range(4)] == rows_before
    cov.add(0, [1], 1.0)  # increments after compaction add to the matrix counts
    assert as_dict(cov, 0)[1] == 2.0 and as_dict(cov, 1)[0] == 2.0


def test_compacts_by_itself_when_the_delta_grows():
    cov = CoVisitationIndex(compact_every=4)
    cov.add(0, [1], 1.0)
    assert cov.delta_size == 2
    cov.add(0, [2], 1.0)
    assert cov.delta == {} and cov.base.nnz == 4
    assert as_dict(cov, 0) == {1: 1.0, 2: 1.0}


def test_add_matrix_equals_adding_pairs(cov):
    bulk = CoVisitationIndex()
    bulk.add_matrix(sp.csr_matrix(np.array([[0, 1, 1], [1, 0, 2], [1, 2, 0]], dtype=np.float32)))
    for seed in range(3):
        ids, scores = cov.neighbors(np.array([seed]), np.array([1.0]), n=5)
        ids2, scores2 = bulk.neighbors(np.array([seed]), np.array([1.0]), n=5)
        np.testing.assert_array_equal(ids2, ids)
        np.testing.assert_allclose(scores2, scores)
    np.testing.assert_array_equal(bulk.row_sums[:3], cov.row_sums[:3])


def test_add_matrix_on_top_of_live_counts(cov):
    cov.add_matrix(sp.csr_matrix(([4.0, 4.0], ([0, 4], [4, 0])), shape=(5, 5)))
    assert as_dict(cov, 0) == {1: 1.0, 2: 1.0, 4: 4.0}
    assert as_dict(cov, 4) == {0: 4.0}
    np.testing.assert_array_equal(cov.row_sums[:5], [6.0, 3.0, 3.0, 0.0, 4.0])
    cov.compact()
    assert as_dict(cov, 0) == {1: 1.0, 2: 1.0, 4: 4.0}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.lists(st.integers(0, 12), max_size=4), st.sampled_from([0.5, 1.0, 2.0, 6.0])),
                min_size=1, max_size=40))
def test_matches_a_dense_model(adds):
    cov = CoVisitationIndex(compact_every=16)
    dense = np.zeros((13, 13))
    for item, others, weight in adds:
        cov.add(item, others, weight)
        for o in others:
            dense[item, o] += weight
            dense[o, item] += weight
    sums = np.zeros(13)
    sums[: min(13, len(cov.row_sums))] = cov.row_sums[:13]
    np.testing.assert_allclose(sums, dense.sum(axis=1))
    for item in range(13):
        got = as_dict(cov, item)
        want = {j: dense[item, j] for j in range(13) if dense[item, j]}
        assert got.keys() == want.keys()
        for j in want:
            assert got[j] == pytest.approx(want[j])
