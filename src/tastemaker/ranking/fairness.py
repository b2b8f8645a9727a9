"""Fairness and popularity bias: minimum exposure shares per provider, a popularity
discount, and the exposure Gini used to report them.

* :func:`ensure_min_exposure` re-orders a list so that, in its first ``n`` slots, every
  configured group (brand or provider) with a minimum share gets at least
  ``ceil(share * n)`` items when it has that many candidates: the group's best items move
  up, replacing the lowest-placed items of groups that are not themselves below their
  minimum. Relative order is otherwise kept.
* :func:`popularity_discount` divides scores by ``(popularity / max popularity + eps) **
  strength`` (inverse-propensity style): ``strength = 0`` changes nothing, 1 fully offsets
  popularity. Candidates without popularity count as the least popular.
* :func:`exposure_gini` is the Gini coefficient of position-discounted exposure over items
  (or groups): 0 when everything is shown equally, towards 1 when a few take it all.

>>> labels = np.array(["big", "big", "big", "small"], dtype=object)
>>> ensure_min_exposure(np.arange(4), labels, {"small": 0.3}, n=3).tolist()
[0, 1, 3, 2]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import islice

import numpy as np

_FLOAT_MAX = float(np.finfo(np.float64).max)


def ensure_min_exposure(order: np.ndarray, labels: np.ndarray, min_share: Mapping[str, float], n: int) -> np.ndarray:
    """``order`` (rows, display order) adjusted so that configured groups reach their minimum
    count in the first ``n``; ``labels[row]`` is each row's group (None: no group)."""
    if not min_share or len(order) == 0:
        return order
    n = min(n, len(order))
    need = {g: math.ceil(s * n) for g, s in min_share.items() if s > 0}
    order = np.asarray(order)
    top_labels = np.asarray(labels)[order[:n]].tolist()
    if all(top_labels.count(g) >= want for g, want in need.items()):
        return np.asarray(order, dtype=np.int64)  # every group has its share already: nothing moves
    first = order.tolist()
    out = list(first)
    lab = labels.tolist()
    for group, want in need.items():
        have = sum(1 for r in out[:n] if lab[r] == group)
        if have >= want:
            continue
        waiting = []
        for r in islice(out, n, None):
            if lab[r] == group:
                waiting.append(r)
                if len(waiting) == want - have:
                    break
        for r in waiting:
            top = out[:n]
            counts: dict[object, int] = {}
            for x in top:
                counts[lab[x]] = counts.get(lab[x], 0) + 1
            # the lowest-placed item whose group can spare it
            victim = next((x for x in reversed(top) if lab[x] != group
                           and counts.get(lab[x], 0) > need.get(lab[x], 0)), None)
            if victim is None:
                break
            out.remove(r)
            out.remove(victim)
            out.insert(n - 1, r)
            out.insert(n, victim)
    # keep the original relative order inside the top n
    out[:n] = sorted(out[:n], key=first.index)
    return np.asarray(out, dtype=np.int64)


def popularity_discount(scores: np.ndarray, popularity: np.ndarray, strength: float, eps: float = 0.01) -> np.ndarray:
    """Scores discounted for popularity (see the module docstring)."""
    if strength <= 0 or not len(scores):
        return scores
    # nan_to_num(nan=0).clip(min=0): NaN and negatives count 0, +inf the largest float
    pop = np.fmax(np.asarray(popularity, np.float64), 0.0)
    np.minimum(pop, _FLOAT_MAX, out=pop)
    top = float(pop.max())
    share = pop / top if top > 0 else np.zeros_like(pop)
    return scores / (share + eps) ** strength


def exposure(topk: np.ndarray, n_items: int, discount: bool = True) -> np.ndarray:
    """Exposure of each item over lists ``topk`` (rows of item indices, -1 padding):
    ``1 / log2(position + 1)`` per appearance when ``discount``, else 1."""
    k = topk.shape[1] if topk.ndim == 2 else 0
    weights = 1.0 / np.log2(np.arange(2, k + 2)) if discount else np.ones(k)
    valid = topk >= 0
    w = np.broadcast_to(weights, topk.shape)[valid]
    return np.bincount(topk[valid], weights=w, minlength=n_items)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative ``values`` (0 = equal)."""
    v = np.sort(np.asarray(values, np.float64))
    if not len(v) or v.sum() <= 0:
        return 0.0
    n = len(v)
    cum = np.arange(1, n + 1)
    return float((2 * (cum * v).sum()) / (n * v.sum()) - (n + 1) / n)


def exposure_gini(topk: np.ndarray, n_items: int, groups: np.ndarray | None = None) -> float:
    """Gini of exposure over the catalogue's items (or over ``groups[item]`` codes)."""
    exp = exposure(topk, n_items)
    if groups is not None:
        codes = np.asarray(groups)
        keep = codes >= 0
        exp = np.bincount(codes[keep], weights=exp[keep])
    return gini(exp)
