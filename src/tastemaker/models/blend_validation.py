"""The hybrid's weight-learning validation: splits carved from the training matrix and the
NDCG of blends on a candidate pool (see :mod:`.hybrid`, steps 1 to 3).

These stay in ``models`` (the hybrid fits with them; evaluation lives above serving) and
differ from the evaluation protocols' splits (``evaluation.splits``): :func:`holdout_split` holds out
``max(1, round(holdout * n))`` of a user's ``n`` entries (never all), the first in a random
order; :func:`time_holdout_split` breaks time ties by item index. The hybrid's validated
figures were measured with exactly these.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def holdout_split(X: sp.csr_matrix, holdout: float, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Per-user stratified random split of the stored entries: (kept, held_out), same shape.

    Users with at least two entries hold out ``max(1, round(holdout * n))`` (never all)."""
    X = sp.csr_matrix(X)
    rng = np.random.default_rng(seed)
    counts = np.diff(X.indptr)
    n_out = np.where(counts >= 2, np.clip(np.round(holdout * counts), 1, counts - 1), 0).astype(np.int64)
    user = np.repeat(np.arange(X.shape[0]), counts)
    order = np.lexsort((rng.random(X.nnz), user))  # random order within each user
    rank = np.empty(X.nnz, np.int64)
    rank[order] = np.arange(X.nnz) - np.repeat(X.indptr[:-1], counts)
    out = rank < np.repeat(n_out, counts)
    def pick(mask):
        return sp.csr_matrix((X.data[mask], (user[mask], X.indices[mask])), shape=X.shape, dtype=X.dtype)
    return pick(~out), pick(out)


def time_holdout_split(X: sp.csr_matrix, timestamps: sp.csr_matrix, holdout: float,
                       per_user: bool = False) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(kept, held_out) by time: the latest ``holdout`` share of all stored entries (one
    global cut, ties at the cut held out), or with ``per_user`` each user's latest entry
    (users with at least two). ``timestamps`` is shaped like ``X`` (entries of ``X`` without
    a time count as the oldest). Ties are broken by item index (deterministic)."""
    X = sp.csr_matrix(X)
    X.sum_duplicates()
    X.sort_indices()
    n = X.shape[1]
    Tm = sp.csr_matrix(sp.csr_matrix(timestamps).multiply(X != 0))
    Tm.sum_duplicates()
    x_keys = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr)) * n + X.indices
    t_keys = np.repeat(np.arange(Tm.shape[0], dtype=np.int64), np.diff(Tm.indptr)) * n + Tm.indices
    ts = np.zeros(X.nnz)  # an interaction without a time counts as the oldest
    ts[np.searchsorted(x_keys, t_keys)] = Tm.data
    counts = np.diff(X.indptr)
    user = np.repeat(np.arange(X.shape[0]), counts)
    if per_user:
        order = np.lexsort((X.indices, ts, user))  # latest last within each user
        last = np.zeros(X.nnz, bool)
        ends = X.indptr[1:][counts >= 2] - 1
        last[order[ends]] = True
        out = last
    else:
        n_out = max(1, int(round(holdout * X.nnz))) if X.nnz else 0
        cut = np.partition(ts, X.nnz - n_out)[X.nnz - n_out] if n_out else np.inf
        out = ts >= cut
    def pick(mask):
        return sp.csr_matrix((X.data[mask], (user[mask], X.indices[mask])), shape=X.shape, dtype=X.dtype)
    return pick(~out), pick(out)


def ndcg_at_k(scores: np.ndarray, seen: sp.csr_matrix, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean binary NDCG@k over rows with relevant items; ``seen`` items are excluded."""
    S = np.array(scores, dtype=np.float32, copy=True)
    seen = sp.csr_matrix(seen)
    r = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    S[r, seen.indices] = -np.inf
    k = min(k, S.shape[1])
    top = np.argpartition(-S, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(S, top, 1), axis=1, kind="stable"), 1)
    rel = sp.csr_matrix(relevant)
    rel.data = (rel.data != 0).astype(np.float32)
    rel.eliminate_zeros()
    rel.sort_indices()
    npos = np.diff(rel.indptr)
    n = S.shape[1]
    keys = np.repeat(np.arange(S.shape[0], dtype=np.int64), npos) * n + rel.indices  # sorted
    q = np.arange(S.shape[0], dtype=np.int64)[:, None] * n + top
    pos = np.searchsorted(keys, q)
    hits = keys[np.minimum(pos, max(len(keys) - 1, 0))] == q if len(keys) else np.zeros(q.shape, bool)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * disc).sum(axis=1)
    idcg = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(npos, k)]
    m = npos > 0
    return float((dcg[m] / idcg[m]).mean()) if m.any() else 0.0


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
        self.disc = 1.0 / np.log2(np.arange(2, self.k + 2))
        idcg = np.concatenate([[0.0], np.cumsum(self.disc)])[np.minimum(npos, self.k)]
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
