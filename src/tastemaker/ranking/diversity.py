"""Diversity: maximal marginal relevance (MMR) re-ranking over item embeddings or categories.

``mmr(relevance, features, k, diversity)`` picks ``k`` items greedily, each maximising::

    (1 - diversity) * relevance_i  -  diversity * max_{j already picked} cos(f_i, f_j)

with relevance min-max normalised over the candidates, so ``diversity`` (the λ of the
trade-off) means the same whatever the scale of scores: 0 keeps the relevance order, 1
picks the most dissimilar items. ``features`` are either rows (embeddings, or the category
indicator from :func:`category_features`: cosine of category sets), or a 1-D array of
int group codes (``RuleEnv.group_codes("category")``: same primary category = similarity
1, the cheapest form). The remaining candidates follow the ``k`` picked ones in relevance
order, so later stages (caps, pins) can still draw on them. Cost: ``k`` passes over the
candidates, each one matrix-vector product (rows) or one comparison (codes).

>>> rel = np.array([1.0, 0.99, 0.5])
>>> f = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
>>> mmr(rel, f, k=2, diversity=0.0).tolist(), mmr(rel, f, k=2, diversity=0.5).tolist()
([0, 1, 2], [0, 2, 1])
"""

from __future__ import annotations

import numpy as np

from tastemaker.rules.env import RuleEnv


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero: similar to nothing)."""
    norms = np.sqrt(np.einsum("ij,ij->i", features, features))
    return features / np.where(norms > 0, norms, 1.0)[:, None]


def normalise(scores: np.ndarray) -> np.ndarray:
    lo, hi = float(scores.min()), float(scores.max())
    return (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)


def mmr(relevance: np.ndarray, features: np.ndarray, k: int, diversity: float,
        similarity: np.ndarray | None = None, penalty: str = "max") -> np.ndarray:
    """Row order: ``k`` rows chosen by MMR, then the rest by relevance (ties by row).

    ``penalty="mean"`` uses the mean similarity to the picked items instead of the max
    (the greedy form of maximising relevance minus mean pairwise similarity, which is what
    intra-list diversity measures); group codes always use the max form.
    """
    if penalty not in ("max", "mean"):
        raise ValueError("penalty is 'max' or 'mean'")
    n = len(relevance)
    base = np.lexsort((np.arange(n), -relevance))
    if diversity <= 0.0 or n <= 1 or k <= 1:
        return base
    k = min(k, n)
    if similarity is None and np.ndim(features) == 1:
        return _mmr_codes(relevance, np.asarray(features), k, diversity, base)
    if similarity is not None:
        row = similarity.__getitem__
    else:
        unit = unit_rows(np.asarray(features, np.float64))

        def row(j: int) -> np.ndarray:
            return unit @ unit[j]
    rel = (1.0 - diversity) * normalise(np.asarray(relevance, np.float64))
    max_sim = np.zeros(n)
    mean = penalty == "mean"
    taken = np.zeros(n, dtype=bool)
    picked = np.empty(k, dtype=np.int64)
    first = int(base[0])
    for t in range(k):
        if t == 0:
            j = first
        else:
            value = rel - (diversity / t if mean else diversity) * max_sim
            value[taken] = -np.inf
            j = int(np.argmax(value))
        picked[t] = j
        taken[j] = True
        if mean:
            max_sim += row(j)  # the sum; divided by the count above
        else:
            np.maximum(max_sim, row(j), out=max_sim)
    rest = base[~taken[base]]
    return np.concatenate([picked, rest])


def _mmr_codes(relevance: np.ndarray, codes: np.ndarray, k: int, diversity: float, base: np.ndarray) -> np.ndarray:
    """MMR when similarity is "same group" (1) or not (0), in closed form: an item's max
    similarity to the picked ones is 1 exactly when its group was picked, and a group is
    first picked through its most relevant item (its leader). So greedy MMR picks in the
    order of ``rel`` for leaders and ungrouped items, ``rel - diversity`` for the others;
    ties by row, as the greedy argmax breaks them."""
    n = len(relevance)
    rel = (1.0 - diversity) * normalise(np.asarray(relevance, np.float64))
    in_base = codes[base]
    by_group = np.lexsort((np.arange(n), in_base))  # positions in base order, grouped, best first
    g = in_base[by_group]
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(g[1:], g[:-1], out=first[1:])
    leader = np.empty(n, dtype=bool)
    leader[base[by_group]] = first | (g < 0)
    key = np.where(leader, rel, rel - diversity)
    picked = np.lexsort((np.arange(n), -key))[:k]
    taken = np.zeros(n, dtype=bool)
    taken[picked] = True
    return np.concatenate([picked, base[~taken[base]]])


def category_features(env: RuleEnv) -> tuple[np.ndarray, dict[str, int]]:
    """Dense (candidates, categories among them) indicator from the catalog, for MMR and
    calibration, and its column of each category; items without a category get a zero row."""
    get = env.catalog.categories.get
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for r, item in enumerate(env.item_list):
        for c in get(item, ()):
            rows.append(r)
            cols.append(vocab.setdefault(c, len(vocab)))
    out = np.zeros((len(env), max(len(vocab), 1)))
    out[rows, cols] = 1.0
    return out, vocab


def embedding_features(env: RuleEnv, embeddings: np.ndarray) -> np.ndarray:
    """Rows of a (n_items, d) embedding table for the candidates (zeros beyond its end)."""
    items = env.items
    inside = items < len(embeddings)
    out = np.zeros((len(items), embeddings.shape[1]), dtype=np.float64)
    out[inside] = embeddings[items[inside]]
    return out
