"""Calibration: a list whose category mix follows the user's history (Steck, RecSys 2018).

Greedy selection of ``k`` items maximising
``(1 - weight) * sum(relevance) - weight * KL(p || q~)`` where ``p`` is the user's category
distribution (from ``UserState.affinity``), ``q`` the list's (each item spreads one unit
over its categories) and ``q~ = (1 - alpha) q + alpha p`` keeps the divergence finite. Each
step scores every remaining candidate at once: O(k * n * categories) numpy work.

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
