"""features.covisitation_merge: base rows heaviest first, float32 counts, served without a copy."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.features.covisitation import CoVisitationIndex
from tastemaker.features.covisitation_merge import merged


def rows_of(m: sp.csr_matrix) -> list[list[tuple[int, float]]]:
    return [list(zip(m.indices[m.indptr[r]:m.indptr[r + 1]].tolist(), m.data[m.indptr[r]:m.indptr[r + 1]].tolist()))
            for r in range(m.shape[0])]


def test_merge_known_answer_heaviest_first_ties_in_column_order() -> None:
    base = merged(sp.csr_matrix((0, 0), dtype=np.float32),
                  sp.csr_matrix(np.array([[0, 1, 3, 1], [2, 0, 0, 0], [0, 0, 0, 0], [5, 1, 0, 0]], np.float32)), 4)
    assert rows_of(base) == [[(2, 3.0), (1, 1.0), (3, 1.0)], [(0, 2.0)], [], [(0, 5.0), (1, 1.0)]]
    recent = sp.csr_matrix(np.array([[0, 3, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0],
                                     [0.5, 0, 0, 0, 0]], np.float32))
    out = merged(base, recent, 5)
    assert out.shape == (5, 5) and out.dtype == np.float32 and out.indices.dtype == np.int32
    assert rows_of(out) == [[(1, 4.0), (2, 3.0), (3, 1.0)], [(0, 2.0)], [], [(0, 5.0), (1, 1.0)], [(0, 0.5)]]
    assert not out.has_sorted_indices  # scipy must not treat weight order as column order


def test_unsorted_input_is_reordered_when_asked() -> None:
    m = sp.csr_matrix(np.array([[0, 1, 2], [3, 0, 4], [0, 0, 0]], np.float64))
    assert rows_of(merged(m, None, 3, reorder=True)) == [[(2, 2.0), (1, 1.0)], [(2, 4.0), (0, 3.0)], []]


def test_a_cut_index_serves_the_heads_of_base_rows_without_a_copy() -> None:
    cov = CoVisitationIndex()
    cov.add(0, [1, 2, 3], 1.0)
    cov.add(0, [2], 2.0)
    cov.add(3, [2], 6.0)
    cov.prune(k=2)
    assert cov.pruned.nnz == 0 and cov.base.data.dtype == np.float32
    assert rows_of(cov.base)[0] == [(2, 3.0), (1, 1.0), (3, 1.0)]
    idx, val = cov.strongest(0, 5)  # capped at the cut's k, as a separate cut would be
    assert idx.tolist() == [2, 1] and val.tolist() == [3.0, 1.0]
    sums = cov.row_sums
    ids, scores = cov.entries(np.array([0, 3]), np.array([1.0, 1.0]), per_item=5)
    assert ids.tolist() == [2, 1, 2, 0]
    f0, f3 = 1 / np.sqrt(sums[0]), 1 / np.sqrt(sums[3])
    np.testing.assert_allclose(scores, [3 * f0 / np.sqrt(sums[2]), f0 / np.sqrt(sums[1]),
                                        6 * f3 / np.sqrt(sums[2]), f3 / np.sqrt(sums[0])])


def test_a_base_merge_makes_every_row_exact_again() -> None:
    cov = CoVisitationIndex()
    cov.add(0, [1, 2], 1.0)
    cov.prune()
    cov.add(0, [2], 5.0)
    cov.row_sums  # noqa: B018 (folds: rows 0 and 2 are touched)
    assert cov._touched == {0, 2}
    cov.compact(full=True)  # everything in base, in served order
    assert not cov._touched and cov.pruned.nnz == 0
    assert cov.strongest(0, 5)[0].tolist() == [2, 1]
    assert cov.strongest(0, 5)[1].tolist() == [6.0, 1.0]


def test_float32_counts_of_integer_weights_are_exact() -> None:
    cov = CoVisitationIndex(compact_every=8)
    rng = np.random.default_rng(0)
    dense = np.zeros((20, 20))
    for _ in range(3_000):
        a, b = rng.integers(0, 20, 2).tolist()
        w = float(rng.choice([1.0, 2.0, 4.0, 6.0]))
        if a != b:
            cov.add(a, [b], w)
            dense[a, b] += w
            dense[b, a] += w
    cov.prune()
    got = cov.base.toarray()
    np.testing.assert_array_equal(got, dense)
