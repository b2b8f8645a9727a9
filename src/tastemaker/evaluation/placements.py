"""Per-placement list quality (``tastemaker evaluate --dataset data-dir`` reports it).

Beyond accuracy (which the model evaluation measures), a placement's pipeline decides how
varied and how fair its lists are. For each placement in force (built-in and configured),
this asks the serving engine for the lists of a sample of users, exactly as the API would
answer them now (rules, ranker, diversity, fairness included; nothing is logged), and reports
with :func:`tastemaker.evaluation.lists.list_metrics`: catalogue coverage, intra-list
diversity over categories, exposure Gini over items and over brands, and popularity bias
(mean popularity of the listed items, as a share of the most popular item's).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import scipy.sparse as sp

from tastemaker.evaluation.lists import list_metrics

SEED_PLACEMENTS = ("product-page", "cart")  # they need the item on screen: the user's latest


def _category_matrix(catalog, n_items: int) -> sp.csr_matrix:
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for item, cats in catalog.categories.items():
        if item < n_items:
            for c in cats:
                rows.append(item)
                cols.append(vocab.setdefault(c, len(vocab)))
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_items, max(len(vocab), 1)))


def evaluate_placements(engine: Any, names: list[str] | None = None, users: int = 500, n: int = 10,
                        seed: int = 0) -> dict[str, dict[str, float]]:
    """List metrics per placement over ``users`` users sampled from the online state."""
    from tastemaker.serving.request import RecommendationRequest

    state, recommender = engine.state, engine.recommender
    logger, recommender.impressions = recommender.impressions, None  # an evaluation is not traffic
    try:
        names = names or recommender.placements.names()
        population = sorted(state.users)
        sample = random.Random(seed).sample(population, min(users, len(population)))
        n_items = len(state.index)
        features = _category_matrix(state.catalog, n_items)
        popularity = state.popularity_scores()
        popularity = popularity / popularity.max() if len(popularity) and popularity.max() > 0 else popularity
        brands = np.full(n_items, -1, np.int64)
        codes = state.catalog.brand_code[:n_items]
        brands[: len(codes)] = codes
        out: dict[str, dict[str, float]] = {}
        for name in names:
            topk = np.full((len(sample), n), -1, np.int64)
            for row, user_id in enumerate(sample):
                user = state.users[user_id]
                last = user.recent_items(1) if name in SEED_PLACEMENTS else []
                item_id = state.index.ids[last[0]] if last else None
                top, _ = recommender.candidates(RecommendationRequest(user_id=user_id, placement=name, n=n,
                                                                      item_id=item_id))
                topk[row, : len(top)] = top.items[:n]
            metrics = list_metrics(topk, n_items, features=features, popularity=popularity, providers=brands)
            metrics["users"] = float(len(sample))
            out[name] = metrics
        return out
    finally:
        recommender.impressions = logger


def format_table(metrics: dict[str, dict[str, float]]) -> str:
    cols = ["coverage", "intra_list_diversity", "exposure_gini", "provider_exposure_gini", "popularity_bias"]
    lines = [f"{'placement':<16}" + "".join(f"{c:>24}" for c in cols)]
    for name, m in metrics.items():
        lines.append(f"{name:<16}" + "".join(f"{m.get(c, float('nan')):>24.4f}" for c in cols))
    return "\n".join(lines)
