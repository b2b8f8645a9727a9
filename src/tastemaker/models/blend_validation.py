"""The NDCG of the hybrid's candidate blends on a pool of each validation row's candidates
(see :mod:`.hybrid`, step 3). The held-out cells and the nDCG discount are those of
:mod:`tastemaker.holdout`, which the evaluation protocols use too.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.holdout import discount, ideal_dcg


class CandidatePool:
    """Validation scores gathered on each row's candidate items, for fast NDCG of blends.

    ``G[name]`` (rows, P) float32 member scores at the candidate columns (0 where masked),
    ``mask`` (rows, P) 0 or -inf (seen items and padding), ``hits`` (rows, P) bool."""

    def __init__(self, val_scores: dict[str, np.ndarray], kept: sp.csr_matrix, held: sp.csr_matrix,
                 k: int, candidates: int | None):
        first = next(iter(val_scores.values()))
        n_rows, n_items = first.shape
        kept = sp.csr_matrix(kept)
        seen_r = np.repeat(np.arange(n_rows), np.diff(kept.indptr))
        if candidates is None or candidates * len(val_scores) >= n_items:
            cols = np.broadcast_to(np.arange(n_items), (n_rows, n_items))
            valid = np.ones((n_rows, n_items), bool)
            valid[seen_r, kept.indices] = False
        else:
            tops = []
            for S in val_scores.values():
                M = np.array(S, dtype=np.float32, copy=True)
                M[seen_r, kept.indices] = -np.inf
                tops.append(np.argpartition(-M, candidates - 1, axis=1)[:, :candidates])
            cols = np.sort(np.hstack(tops), axis=1)
            valid = np.ones(cols.shape, bool)
            valid[:, 1:] = cols[:, 1:] != cols[:, :-1]  # each item once
            seen = np.zeros((n_rows, n_items), bool)
            seen[seen_r, kept.indices] = True
            valid &= ~np.take_along_axis(seen, cols, 1)
        self.k = min(k, n_items)
        self.mask = np.where(valid, np.float32(0.0), np.float32(-np.inf)).astype(np.float32)
        self.G = {n: np.where(valid, np.take_along_axis(np.asarray(S, np.float32), cols, 1), np.float32(0.0))
                  for n, S in val_scores.items()}
        rel = sp.csr_matrix(held)
        rel.data = (rel.data != 0)
        rel.eliminate_zeros()
        H = np.zeros((n_rows, n_items), bool)
        H[np.repeat(np.arange(n_rows), np.diff(rel.indptr)), rel.indices] = True
        self.hits = np.take_along_axis(H, cols, 1) & valid
        npos = np.diff(rel.indptr)
        self.disc = discount(self.k)
        idcg = ideal_dcg(npos, self.k)
        self.rows = npos > 0
        self.idcg = idcg[self.rows]

    def ndcg(self, B: np.ndarray) -> float:
        """Mean NDCG@k of the blend ``B`` (rows, P) over rows with held-out items."""
        if not self.rows.any():
            return 0.0
        B = B[self.rows] if not self.rows.all() else B
        hits = self.hits[self.rows] if not self.rows.all() else self.hits
        kk = min(self.k, B.shape[1])  # a pool may be smaller than k: the rest are misses
        top = np.argpartition(-B, kk - 1, axis=1)[:, :kk] if kk < B.shape[1] else \
            np.broadcast_to(np.arange(B.shape[1]), B.shape)
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(B, top, 1), axis=1, kind="stable"), 1)
        ok = np.isfinite(np.take_along_axis(B, top, 1))
        dcg = ((np.take_along_axis(hits, top, 1) & ok) * self.disc[:kk]).sum(axis=1)
        return float((dcg / self.idcg).mean())
