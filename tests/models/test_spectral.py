"""The leading singular subspace: tied clusters kept whole, so the answer is machine-independent."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.models.gfcf import inverse_sqrt_degrees
from tastemaker.models.spectral import cluster_end, leading_subspace, tie_tolerance

from tests.models.conftest_tiny import tiny


def normalised_tiny() -> sp.csr_matrix:
    """GF-CF's R~ of the two-cluster set: singular values 1, 3/7, 3/7, ... (a tie at 2-3)."""
    X, _, _ = tiny()
    R = (X > 0).astype(np.float64)
    du = inverse_sqrt_degrees(np.asarray(R.sum(axis=1)).ravel())
    di = inverse_sqrt_degrees(np.asarray(R.sum(axis=0)).ravel())
    return sp.csr_matrix(sp.diags(du) @ R @ sp.diags(di))


def projector(vt: np.ndarray) -> np.ndarray:
    return vt.T @ vt


def test_cluster_end() -> None:
    s = np.array([3.0, 2.0, 2.0, 1.0, 1.0])
    assert cluster_end(s, 1, 1e-9) == 1
    assert cluster_end(s, 2, 1e-9) == 3  # 2.0 is tied with the next value
    assert cluster_end(s, 4, 1e-9) == 5  # the tie runs to the end of what is known
    assert tie_tolerance(np.float32) > tie_tolerance(np.float64)


def test_a_cut_inside_a_tie_is_widened_to_the_whole_cluster() -> None:
    Rn = normalised_tiny()
    s, vt = leading_subspace(Rn, 2)
    np.testing.assert_allclose(s, [1.0, 3 / 7, 3 / 7], rtol=1e-12)
    assert vt.shape == (3, Rn.shape[1])
    s1, vt1 = leading_subspace(Rn, 1)  # 1 is separated from 3/7: exactly one vector
    assert len(s1) == 1 and vt1.shape == (1, Rn.shape[1])


def test_sparse_and_dense_paths_agree_on_the_projector_for_any_seed() -> None:
    # the basis of a tied cluster is arbitrary (it differs by path and start vector); the
    # projector onto it is unique, up to the solver's tolerance (ARPACK: machine precision)
    Rn = normalised_tiny()
    _, dense = leading_subspace(Rn, 2)
    for seed in (0, 1, 7):
        _, sparse = leading_subspace(Rn, 2, seed=seed, dense_below=0)
        assert sparse.shape == dense.shape
        np.testing.assert_allclose(projector(sparse), projector(dense), atol=1e-9)


def test_the_result_respects_the_datas_symmetry() -> None:
    # swapping the two clusters (items i <-> i + 6, users u <-> u + 6) maps the data onto
    # itself, so the subspace must map onto itself; half of a tied pair would not
    Rn = normalised_tiny()
    swap = np.r_[6:12, 0:6]
    assert (Rn[swap][:, swap] != Rn).nnz == 0
    for dense_below in (256, 0):
        P = projector(leading_subspace(Rn, 2, dense_below=dense_below)[1])
        np.testing.assert_allclose(P[swap][:, swap], P, atol=1e-9)


def test_zero_singular_values_are_left_out_and_empty_inputs_give_nothing() -> None:
    M = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]]))  # rank 1
    s, vt = leading_subspace(M, 2)
    assert len(s) == 1 and vt.shape == (1, 3)
    np.testing.assert_allclose(np.abs(vt[0]), [2 ** -0.5, 2 ** -0.5, 0.0], atol=1e-12)
    assert leading_subspace(M, 0)[1].shape == (0, 3)
    assert leading_subspace(sp.csr_matrix((4, 5)), 2)[1].shape == (0, 5)
