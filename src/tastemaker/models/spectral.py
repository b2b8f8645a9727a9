"""The leading singular subspace of a sparse matrix, the same on every machine.

A rank-``k`` truncation is only well defined when the ``k``-th singular value is strictly
larger than the ``k+1``-th. When they are tied (symmetric data, duplicated users or items:
the tiny two-cluster test set has ``sigma_2 == sigma_3``), *any* rotation of the tied
singular vectors is an equally exact answer, and which one ARPACK or LAPACK returns depends
on the BLAS build, its thread count and the summation order: the same fit scored items from
the wrong cluster on one machine and the right one on another. The projector ``V V^T`` onto
a *whole* tied cluster does not depend on the basis, so :func:`leading_subspace` widens the
cut to the end of the cluster the ``k``-th value belongs to.

Singular values closer than ``sqrt(eps) * sigma_1`` count as tied: the computed vectors of
two values ``gap`` apart are only accurate to about ``eps * sigma_1 / gap`` (Davis-Kahan),
so below that gap the individual vectors are noise while the cluster's span is accurate.
The sparse solver's start vector is drawn from ``seed``; small matrices use a dense SVD,
which has no start vector at all.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.sparse.linalg import svds

DENSE_BELOW = 256  # min side up to which a dense SVD is cheaper than ARPACK's set-up


def tie_tolerance(dtype: np.dtype) -> float:
    """Relative gap (to ``sigma_1``) below which two singular values count as tied."""
    return float(np.sqrt(np.finfo(np.dtype(dtype)).eps))


def cluster_end(s: np.ndarray, k: int, rtol: float) -> int:
    """Smallest ``m >= k`` such that ``s[m]`` (descending) is not tied with ``s[k - 1]``."""
    tol = rtol * float(s[0]) if len(s) else 0.0
    m = k
    while m < len(s) and s[k - 1] - s[m] <= tol:
        m += 1
    return m


def _dense(M: sp.spmatrix | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    A = M.toarray() if sp.issparse(M) else np.asarray(M)
    # gesvd, not the default gesdd: the divide-and-conquer driver can fail to converge on
    # exactly repeated singular values, which are what this module is about
    _, s, vt = la.svd(A, full_matrices=False, lapack_driver="gesvd")
    return s, vt


def leading_subspace(M: sp.spmatrix, k: int, seed: int = 0,
                     dense_below: int = DENSE_BELOW) -> tuple[np.ndarray, np.ndarray]:
    """Leading singular values (descending) and right singular vectors (rows) of ``M``.

    Returns at least ``min(k, rank-ish)`` of them: exactly ``k`` when ``sigma_k`` is
    separated from ``sigma_{k+1}``, more when the cut would split a tied cluster (see the
    module docstring), fewer when ``M``'s rank is below ``k`` (vectors of zero singular
    values are an arbitrary basis of the null space, so they are left out). ``k <= 0`` or an
    all-zero matrix gives empty arrays.
    """
    n = min(M.shape)
    dtype = np.result_type(M.dtype, np.float32)
    empty = np.zeros(0, dtype), np.zeros((0, M.shape[1]), dtype)
    if k <= 0 or n == 0 or (sp.issparse(M) and M.nnz == 0):
        return empty
    k = min(k, n)
    rtol = tie_tolerance(dtype)
    if n > dense_below:
        extra = max(4, k // 4)  # room to see where the k-th value's cluster ends
        rng = np.random.default_rng(seed)
        while k + extra < n - 1:
            v0 = rng.standard_normal(n).astype(dtype)
            _, s, vt = svds(M, k=k + extra, v0=v0)
            order = np.argsort(-s, kind="stable")
            s, vt = s[order], vt[order]
            m = cluster_end(s, k, rtol)
            if m < len(s):  # the cluster ended inside what was computed
                return _nonzero(s[:m], vt[:m], rtol)
            extra *= 2
    s, vt = _dense(M)  # small, or the cluster reaches (almost) the whole spectrum
    m = cluster_end(s, k, rtol)
    return _nonzero(s[:m].astype(dtype), vt[:m].astype(dtype), rtol)


def _nonzero(s: np.ndarray, vt: np.ndarray, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop (numerically) zero singular values: their vectors are an arbitrary null-space basis."""
    keep = s > rtol * float(s[0]) if len(s) else np.zeros(0, bool)
    return s[keep], vt[keep]
