"""Candidate features for the learned ranker: one row per candidate, the same at training
and serving time.

Columns (``FEATURE_NAMES``): the blended score; each source's max-normalised score (0 when
the source did not propose the item) and how many sources did; the item's decayed
popularity and trending score (as shares of the highest among the candidates), age in log
days, log price, margin; the user-item category affinity (the user's affinity share of the
item's primary category), whether the user has seen the item; and the request context (mobile
device, hour of day as sin/cos). Missing values are NaN, which LightGBM handles natively.

The serving path computes them with :func:`candidate_features` and logs them with the
impression, so training reads the values *as they were when served* (see
:mod:`tastemaker.ranking.ltr`).

>>> parts = [("covisitation", 1.0, np.array([3, 5]), np.array([2.0, 1.0])),
...          ("trending", 0.2, np.array([5]), np.array([4.0]))]
>>> source_scores(parts, np.array([5, 3, 9]))["covisitation"].tolist()
[0.5, 1.0, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from tastemaker.rules.env import RuleEnv

SOURCE_NAMES: tuple[str, ...] = ("covisitation", "session_covisitation", "seed_covisitation", "category_affinity",
                                 "user_model", "trending", "popular", "context_popular")
FEATURE_NAMES: tuple[str, ...] = (
    "blend", *(f"source_{s}" for s in SOURCE_NAMES), "n_sources", "popularity", "trending", "age_log_days",
    "price_log", "margin", "affinity", "seen", "ctx_mobile", "hour_sin", "hour_cos",
)
_DAY = 86400.0


class _Rows:
    """A reusable item -> row lookup (-1: not a candidate), reset after each use. Requests
    run one at a time on the event loop, so one table per process is safe."""

    table = np.full(0, -1, np.int64)


def source_scores(parts: Sequence[tuple[str, float, np.ndarray, np.ndarray]], items: np.ndarray) -> dict[str, np.ndarray]:
    """Per source, its max-normalised score for each of ``items`` (unique; 0 where the source
    did not propose the item); ``parts`` are the ``(source, weight, items, scores)`` given to
    ``serving.candidates.merge``. No sort: rows are looked up in a scratch table by item."""
    out: dict[str, np.ndarray] = {}
    live = [p for p in parts if len(p[2])]
    if not len(items) or not live:
        return {name: np.zeros(len(items)) for name, _, _, _ in parts}
    size = max(int(items.max()), *(int(p[2].max()) for p in live)) + 1
    if len(_Rows.table) < size:
        _Rows.table = np.full(max(size, 2 * len(_Rows.table)), -1, np.int64)
    table = _Rows.table
    table[items] = np.arange(len(items))
    try:
        for name, _, p_items, p_scores in parts:
            col = np.zeros(len(items))
            if len(p_items):
                top = float(p_scores.max()) or 1.0
                rows = table[p_items]
                hit = rows >= 0
                col[rows[hit]] = p_scores[hit] / top
            out[name] = col
    finally:
        table[items] = -1
    return out


def _share(env: RuleEnv, name: str) -> np.ndarray:
    col = env.column(name)
    top = float(np.nanmax(col, initial=0.0)) if len(col) else 0.0
    return col / top if top > 0 else col


def _affinity(env: RuleEnv) -> np.ndarray | float:
    user = env.user
    if user is None or not user.affinity:
        return 0.0
    ids = env.catalog.category_ids
    pairs = [(ids[c], w) for c, w in user.affinity.items() if c in ids]
    total = sum(user.affinity.values())
    if not pairs or total <= 0:
        return 0.0
    lookup = np.zeros(len(ids) + 1)
    for code, w in pairs:
        lookup[code] = w / total
    return lookup[env.group_codes("category")]  # code -1 reads the spare last slot (0)


def candidate_features(env: RuleEnv, blend: np.ndarray, sources: Mapping[str, np.ndarray],
                       names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """The (candidates, len(names)) float64 feature matrix, columns in ``names`` order.

    ``env.item_columns`` should hold ``popularity`` and ``trending`` (full per-item arrays
    or callables), ``env.user`` the user state (or None), ``env.context`` the request context.
    """
    n = len(env)
    cols: dict[str, np.ndarray | float] = {"blend": np.asarray(blend, np.float64)}
    present = np.zeros(n)
    for s in SOURCE_NAMES:
        v = sources.get(s)
        cols[f"source_{s}"] = 0.0 if v is None else v
        if v is not None:
            present += v > 0
    cols["n_sources"] = present
    cols["popularity"] = _share(env, "popularity")
    cols["trending"] = _share(env, "trending")
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["age_log_days"] = np.log1p(np.maximum(env.column("age"), 0.0) / _DAY)
        cols["price_log"] = np.log1p(np.maximum(env.column("price"), 0.0))
    cols["margin"] = env.column("margin")
    user = env.user
    cols["affinity"] = _affinity(env)
    cols["seen"] = env.members(user.seen).astype(np.float64) if user is not None else 0.0
    ctx = env.context
    cols["ctx_mobile"] = 1.0 if ctx.get("device") == "mobile" else 0.0
    hour = (env.now % _DAY) / 3600.0
    cols["hour_sin"], cols["hour_cos"] = math.sin(2 * math.pi * hour / 24), math.cos(2 * math.pi * hour / 24)
    out = np.empty((n, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        out[:, j] = cols.get(name, np.nan)
    return out
