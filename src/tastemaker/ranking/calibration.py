"""Calibration: a list whose category mix follows the user's history (Steck, RecSys 2018).

Greedy selection of ``k`` items maximising
``(1 - weight) * sum(relevance) - weight * KL(p || q~)`` where ``p`` is the user's category
distribution (from ``UserState.affinity``), ``q`` the list's (each item spreads one unit
over its categories) and ``q~ = (1 - alpha) q + alpha p`` keeps the divergence finite. Each
step scores every remaining candidate at once: O(k * n * categories) numpy work with the
category indicator matrix (:func:`calibrate`), O(k * (n + categories)) with primary
category codes (:func:`calibrate_codes`, the fast form for the request path).

>>> rel = np.array([1.0, 0.9, 0.8, 0.7])
>>> cats = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
>>> calibrate(rel, cats, np.array([0.5, 0.5]), k=2, weight=0.0).tolist()
[0, 1, 2, 3]
>>> calibrate(rel, cats, np.array([0.5, 0.5]), k=2, weight=0.5).tolist()
[0, 2, 1, 3]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tastemaker.ranking.diversity import normalise


def target_distribution(affinity: Mapping[str, float], vocab: Mapping[str, int]) -> np.ndarray:
    """The user's category distribution over ``vocab`` columns (zeros when unknown)."""
    p = np.zeros(max(len(vocab), 1))
    for cat, w in affinity.items():
        col = vocab.get(cat)
        if col is not None and w > 0:
            p[col] += w
    total = p.sum()
    return p / total if total > 0 else p


def calibrate(relevance: np.ndarray, categories: np.ndarray, target: np.ndarray, k: int, weight: float,
              alpha: float = 0.01) -> np.ndarray:
    """Row order: ``k`` rows chosen for calibration, then the rest by relevance."""
    n = len(relevance)
    base = np.lexsort((np.arange(n), -relevance))
    if weight <= 0.0 or n <= 1 or not target.any():
        return base
    k = min(k, n)
    per_item = categories / np.maximum(categories.sum(axis=1, keepdims=True), 1.0)
    support = target > 0
    p = target[support]
    w = per_item[:, support]
    rel = (1.0 - weight) * normalise(np.asarray(relevance, np.float64))
    acc = np.zeros(support.sum())
    rel_sum = 0.0
    taken = np.zeros(n, dtype=bool)
    picked = np.empty(k, dtype=np.int64)
    for t in range(k):
        q = (acc[None, :] + w) / (t + 1)
        q = (1 - alpha) * q + alpha * p[None, :]
        kl = (p[None, :] * np.log(p[None, :] / q)).sum(axis=1)
        value = rel_sum + rel - weight * kl
        value[taken] = -np.inf
        j = int(np.argmax(value))
        picked[t] = j
        taken[j] = True
        acc += w[j]
        rel_sum += rel[j]
    rest = base[~taken[base]]
    return np.concatenate([picked, rest])


def target_by_code(affinity: Mapping[str, float], category_ids: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """The user's distribution over primary-category codes: ``(codes, shares)`` (unknown
    categories dropped)."""
    pairs = [(category_ids[c], w) for c, w in affinity.items() if w > 0 and c in category_ids]
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0)
    codes = np.fromiter((c for c, _ in pairs), np.int64, len(pairs))
    shares = np.fromiter((w for _, w in pairs), np.float64, len(pairs))
    return codes, shares / shares.sum()


def calibrate_codes(relevance: np.ndarray, codes: np.ndarray, target_codes: np.ndarray, target: np.ndarray, k: int,
                    weight: float, alpha: float = 0.01) -> np.ndarray:
    """:func:`calibrate` with one (primary) category code per candidate (-1: none):
    a candidate only changes its own category's term of the divergence, so each step is a
    handful of vector operations.

    >>> calibrate_codes(np.array([1.0, 0.9, 0.8, 0.7]), np.array([5, 5, 7, 7]), np.array([5, 7]),
    ...                 np.array([0.5, 0.5]), k=2, weight=0.5).tolist()
    [0, 2, 1, 3]
    """
    n = len(relevance)
    base = np.lexsort((np.arange(n), -relevance))
    if weight <= 0.0 or n <= 1 or not len(target):
        return base
    k = min(k, n)
    order = np.argsort(target_codes)
    tc, p = np.asarray(target_codes)[order], np.asarray(target, np.float64)[order]
    S = len(tc)
    at = np.searchsorted(tc, codes).clip(max=S - 1)
    col = np.where(tc[at] == codes, at, S)  # each candidate's target column; S: outside the target
    rel = (1.0 - weight) * normalise(np.asarray(relevance, np.float64))
    # per column (and the outside), its candidates in relevance order: the best one is the
    # only one of the column that can be picked next
    col_in_base = col[base]
    grouped = np.lexsort((np.arange(n), col_in_base))
    queues = np.split(base[grouped], np.flatnonzero(np.diff(col_in_base[grouped])) + 1)
    heads = {int(col[q[0]]): (q.tolist(), 0) for q in queues}
    acc = np.zeros(S)
    picked: list[int] = []
    rel_sum = 0.0
    ap = alpha * p
    for t in range(k):
        denom = (1 - alpha) * acc / (t + 1) + ap
        terms = p * np.log(p / denom)
        delta = p * np.log(p / (denom + (1 - alpha) / (t + 1))) - terms
        base_kl = float(terms.sum())
        best, best_value, best_row = -1, -np.inf, n
        deltas = delta.tolist()
        for c, (rows, i) in heads.items():
            if i >= len(rows):
                continue
            r = rows[i]
            v = rel[r] - weight * (base_kl + (deltas[c] if c < S else 0.0))
            if v > best_value or (v == best_value and r < best_row):
                best, best_value, best_row = c, v, r
        if best < 0:
            break
        rows, i = heads[best]
        heads[best] = (rows, i + 1)
        picked.append(best_row)
        if best < S:
            acc[best] += 1.0
        rel_sum += rel[best_row]
    taken = np.zeros(n, dtype=bool)
    taken[picked] = True
    return np.concatenate([np.asarray(picked, np.int64), base[~taken[base]]])
