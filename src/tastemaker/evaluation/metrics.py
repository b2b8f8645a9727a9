"""Offline metrics of top-k lists, vectorised over users.

Inputs are a ``topk`` array (n_users, k) of item indices, best first, ``-1`` padding a
list shorter than k, and the relevant (test) items as a csr matrix whose row ``u`` belongs
to ``topk[u]``. Relevance is binary: any stored test cell is relevant.

Accuracy (per user; average over users with >= 1 relevant item):
precision@k = hits/k; recall@k = hits/|rel|; nDCG@k = DCG/IDCG with gain 1 and discount
1/log2(rank+1), IDCG over min(|rel|, k) hits; AP@k = sum of precision@i at hit ranks i
divided by min(|rel|, k) (MAP = its mean); RR@k = 1/rank of the first hit; hit@k = any hit.

Beyond accuracy: catalogue coverage (share of items recommended to anyone), novelty (mean
self-information -log2 p(i) of recommended items, p = share of users who interacted),
intra-list diversity (1 - mean pairwise cosine of item feature vectors), and popularity
bias (ARP: mean popularity of recommended items; lift: ARP / mean catalogue popularity).

Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> test = sp.csr_matrix(np.array([[0, 1, 0, 1]], dtype=np.float32))
    >>> h = hits_at_k(np.array([[1, 0, 3]]), test)
    >>> h.tolist(), round(float(ndcg_at_k(h, np.array([2]))[0]), 4)
    ([[True, False, True]], 0.9197)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from tastemaker.holdout import ndcg


def _keys(m: sp.csr_matrix) -> np.ndarray:
    m = sp.csr_matrix(m)
    m.sum_duplicates()  # canonical -> keys sorted, searchsorted below is valid
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return rows * m.shape[1] + m.indices.astype(np.int64)


def hits_at_k(topk: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """Boolean (n_users, k): is ``topk[u, j]`` a stored cell of ``relevant[u]``?

    Example:
        >>> rel = sp.csr_matrix(np.array([[1, 0], [0, 1]], dtype=np.float32))
        >>> hits_at_k(np.array([[0, 1], [0, -1]]), rel).tolist()
        [[True, False], [False, False]]
    """
    topk = np.asarray(topk, np.int64)
    keys = _keys(relevant)
    want = np.arange(topk.shape[0], dtype=np.int64)[:, None] * relevant.shape[1] + topk
    if not len(keys):
        return np.zeros(topk.shape, bool)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return (keys[pos] == want) & (topk >= 0)


def n_relevant(relevant: sp.csr_matrix) -> np.ndarray:
    """Relevant items per user (row lengths)."""
    return np.diff(sp.csr_matrix(relevant).indptr)


def precision_at_k(hits: np.ndarray) -> np.ndarray:
    """Hits / k per user (k = list length including padding)."""
    return hits.sum(1) / max(hits.shape[1], 1)


def recall_at_k(hits: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """Hits / |relevant| per user (0 where nothing is relevant)."""
    return hits.sum(1) / np.maximum(n_rel, 1)


def ndcg_at_k(hits: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """Binary-relevance nDCG per user.

    Example:
        >>> ndcg_at_k(np.array([[True, False]]), np.array([1])).tolist()
        [1.0]
    """
    return ndcg(hits, n_rel)


def average_precision_at_k(hits: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """AP@k per user: mean precision at hit ranks, over min(|relevant|, k)."""
    k = hits.shape[1]
    prec = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    denom = np.minimum(n_rel, k)
    return np.divide((prec * hits).sum(1), denom, out=np.zeros(len(hits)), where=denom > 0)


def reciprocal_rank_at_k(hits: np.ndarray) -> np.ndarray:
    """1 / rank of the first hit, 0 without a hit."""
    first = hits.argmax(1)
    return np.where(hits.any(1), 1.0 / (first + 1), 0.0)


def hit_rate_at_k(hits: np.ndarray) -> np.ndarray:
    """1 where at least one of the k items is relevant."""
    return hits.any(1).astype(np.float64)


def ranking_metrics(topk: np.ndarray, relevant: sp.csr_matrix) -> dict[str, np.ndarray]:
    """All accuracy metrics per user, keyed ``precision@k`` ... ``hit_rate@k``.

    Example:
        >>> rel = sp.csr_matrix(np.array([[0, 1, 1]], dtype=np.float32))
        >>> {k: round(float(v[0]), 3) for k, v in ranking_metrics(np.array([[0, 1]]), rel).items()}
        {'precision@2': 0.5, 'recall@2': 0.5, 'ndcg@2': 0.387, 'map@2': 0.25,
         'mrr@2': 0.5, 'hit_rate@2': 1.0}
    """
    hits = hits_at_k(topk, relevant)
    n_rel = n_relevant(relevant)
    k = hits.shape[1]
    return {f"precision@{k}": precision_at_k(hits), f"recall@{k}": recall_at_k(hits, n_rel),
            f"ndcg@{k}": ndcg_at_k(hits, n_rel), f"map@{k}": average_precision_at_k(hits, n_rel),
            f"mrr@{k}": reciprocal_rank_at_k(hits), f"hit_rate@{k}": hit_rate_at_k(hits)}


def catalogue_coverage(topk: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list.

    Example:
        >>> catalogue_coverage(np.array([[0, 1], [1, -1]]), 4)
        0.5
    """
    valid = topk[topk >= 0]
    return float(len(np.unique(valid)) / n_items) if n_items else 0.0


def item_popularity(interactions: sp.csr_matrix) -> np.ndarray:
    """Share of users who interacted with each item (n_items,), from the training matrix.

    Example:
        >>> item_popularity(sp.csr_matrix(np.array([[1, 0], [1, 1]], dtype=np.float32))).tolist()
        [1.0, 0.5]
    """
    m = sp.csr_matrix(interactions)
    counts = np.bincount(m.indices[m.data != 0], minlength=m.shape[1])
    return counts / max(m.shape[0], 1)


def _list_mean(values: np.ndarray, topk: np.ndarray) -> np.ndarray:
    """Mean of per-item *values* over each list's valid entries (NaN for empty lists)."""
    valid = topk >= 0
    total = np.where(valid, values[np.maximum(topk, 0)], 0.0).sum(1)
    count = valid.sum(1)
    return np.divide(total, count, out=np.full(len(topk), np.nan), where=count > 0)


def novelty(topk: np.ndarray, popularity: np.ndarray, floor: float | None = None) -> np.ndarray:
    """Mean self-information ``-log2 p(i)`` of each list (bits).

    Items with popularity 0 (never seen in training) get ``floor`` (default: the smallest
    positive popularity, i.e. as if seen once) so the value stays finite.

    Example:
        >>> novelty(np.array([[0, 1]]), np.array([0.5, 0.125])).tolist()
        [2.0]
    """
    pos = popularity[popularity > 0]
    floor = (float(pos.min()) if len(pos) else 1.0) if floor is None else floor
    return _list_mean(-np.log2(np.maximum(popularity, floor)), topk)


def popularity_bias(topk: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """Average recommendation popularity (ARP) of each list, in the units of *popularity*.

    Example:
        >>> popularity_bias(np.array([[0, 1, -1]]), np.array([0.5, 0.1, 0.9])).tolist()
        [0.3]
    """
    return _list_mean(np.asarray(popularity, np.float64), topk)


def intra_list_diversity(topk: np.ndarray, features: np.ndarray | sp.spmatrix) -> np.ndarray:
    """``1 - mean pairwise cosine`` of each list's item feature vectors.

    *features* is (n_items, d): dense embeddings or a sparse category indicator matrix
    (see :func:`category_features`). An item without features is orthogonal to all.
    Lists with fewer than two items give NaN. Uses ``sum_{i<j} cos = (|sum f|^2 - n)/2``
    over unit vectors, so no pairwise loop.

    Example:
        >>> f = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> [round(x, 4) for x in intra_list_diversity(np.array([[0, 1, 2]]), f).tolist()]
        [0.6667]
    """
    feats = sp.csr_matrix(features, dtype=np.float64)
    norms = np.sqrt(np.asarray(feats.multiply(feats).sum(1)).ravel())
    unit = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ feats
    valid = topk >= 0
    rows = np.repeat(np.arange(len(topk)), valid.sum(1))
    lists = sp.csr_matrix((np.ones(len(rows)), (rows, topk[valid])),
                          shape=(len(topk), feats.shape[0]))
    summed = lists @ unit
    sq = np.asarray(summed.multiply(summed).sum(1)).ravel()
    self_sim = lists @ (norms > 0).astype(np.float64)
    n = valid.sum(1).astype(np.float64)
    pairs = n * (n - 1) / 2
    mean_cos = np.divide((sq - self_sim) / 2, pairs, out=np.full(len(n), np.nan),
                         where=pairs > 0)
    return 1.0 - mean_cos


def category_features(items: Sequence[Mapping[str, Any]], item_ids: Sequence[str]) -> sp.csr_matrix:
    """Indicator matrix (n_items, n_categories) from item records' ``categories`` lists.

    Example:
        >>> recs = [{"id": "a", "categories": ["x"]}, {"id": "b", "categories": ["x", "y"]}]
        >>> category_features(recs, ["b", "a", "c"]).toarray().tolist()
        [[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]
    """
    cats = {str(r["id"]): (r.get("categories") or []) for r in items}
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for row, iid in enumerate(item_ids):  # once per item, at report time: a loop is fine
        for c in cats.get(str(iid), []):
            rows.append(row)
            cols.append(vocab.setdefault(c, len(vocab)))
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(item_ids), len(vocab)))


def mean_metrics(per_user: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Mean of each per-user metric, ignoring NaN (lists too short to measure)."""
    out = {}
    for name, vals in per_user.items():
        vals = np.asarray(vals, np.float64)
        out[name] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    return out
