"""Candidate features for the learned ranker: one row per candidate, the same at training
and serving time.

Columns (``FEATURE_NAMES``): the blended score; each source's max-normalised score (0 when
the source did not propose the item) and how many sources did; the item's decayed
popularity and trending score (as shares of the highest among the candidates), age in log
days, log price, margin; the user-item category affinity (the user's affinity share of the
item's primary category), whether the user has seen the item; and the request context (mobile
device, hour of day as sin/cos, public holiday and weekend from features.context). Missing
values are NaN, which LightGBM handles natively.

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
    "ctx_holiday", "ctx_weekend",  # from features.context (the request's country and local day)
)
_DAY = 86400.0
STREAM_PREFIX = "stream:"  # a ranker column that is a streaming feature (``stream:item_ctr_1d``)
STREAM_HOOK = "__streaming__"  # the env.item_columns entry that computes them for the candidates


class _Rows:
    """A reusable item -> row lookup (-1: not a candidate), reset after each use. Requests
    run one at a time on the event loop, so one table per process is safe."""

    table = np.full(0, -1, np.int64)


class _Slots:
    """Like :class:`_Rows`, but ``OUT`` (far beyond any matrix) where not a candidate."""

    OUT = 1 << 40
    table = np.full(0, OUT, np.int64)


def source_scores(parts: Sequence[tuple[str, float, np.ndarray, np.ndarray]], items: np.ndarray) -> dict[str, np.ndarray]:
    """Per source, its max-normalised score for each of ``items`` (unique; 0 where the source
    did not propose the item); ``parts`` are the ``(source, weight, items, scores)`` given to
    ``tastemaker.candidates.merge``. No sort: rows are looked up in a scratch table by item."""
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


_ROW = {name: j for j, name in enumerate(FEATURE_NAMES)}
_SOURCE_ROW = {s: _ROW[f"source_{s}"] for s in SOURCE_NAMES}
_FIRST_SOURCE, _N_SOURCES = _ROW[f"source_{SOURCE_NAMES[0]}"], _ROW["n_sources"]
_POP, _AGE, _MARGIN, _AFFINITY, _SEEN = _ROW["popularity"], _ROW["age_log_days"], _ROW["margin"], _ROW["affinity"], _ROW["seen"]
_MOBILE, _SIN, _COS = _ROW["ctx_mobile"], _ROW["hour_sin"], _ROW["hour_cos"]
_HOLIDAY, _WEEKEND = _ROW["ctx_holiday"], _ROW["ctx_weekend"]
assert _ROW["trending"] == _POP + 1 and _ROW["price_log"] == _AGE + 1  # filled two rows at a time
assert list(_SOURCE_ROW.values()) == list(range(_FIRST_SOURCE, _N_SOURCES))


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


def _fill(env: RuleEnv, out: np.ndarray, blend: np.ndarray) -> None:
    """Every row of the (len(FEATURE_NAMES), candidates) matrix ``out`` but the sources'."""
    out[0] = blend
    np.greater(out[_FIRST_SOURCE:_N_SOURCES], 0.0).sum(axis=0, out=out[_N_SOURCES], dtype=np.float64)
    # popularity and trending as shares of the highest among the candidates (unchanged when
    # that is not positive)
    shares = out[_POP:_POP + 2]
    shares[0] = env.column("popularity")
    shares[1] = env.column("trending")
    tops = np.fmax.reduce(shares, axis=1, initial=0.0).tolist()  # nanmax
    shares /= np.array([t if t > 0 else 1.0 for t in tops])[:, None]
    # log days since created, log price: log1p of a non-negative number (or NaN) never warns
    ages = out[_AGE:_AGE + 2]
    np.subtract(env.now, env.column("created_at"), out=ages[0])
    ages[1] = env.column("price")
    np.maximum(ages, 0.0, out=ages)
    ages[0] /= _DAY
    np.log1p(ages, out=ages)
    out[_MARGIN] = env.column("margin")
    out[_AFFINITY] = _affinity(env)
    user = env.user
    if user is not None and user.n_seen:
        out[_SEEN] = env.members(user.seen)
    else:
        out[_SEEN] = 0.0
    out[_MOBILE] = 1.0 if env.context.get("device") == "mobile" else 0.0
    hour = (env.now % _DAY) / 3600.0
    out[_SIN], out[_COS] = math.sin(2 * math.pi * hour / 24), math.cos(2 * math.pi * hour / 24)
    context = env.context  # an EnrichedContext derives these on first read (a plain dict: 0)
    out[_HOLIDAY] = 1.0 if context.get("is_holiday") else 0.0
    out[_WEEKEND] = 1.0 if context.get("is_weekend") else 0.0


def _named(full: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The (candidates, len(names)) matrix: a view of ``full`` (features x candidates) when
    ``names`` are ``FEATURE_NAMES``, else a copy with those columns (NaN for unknown names)."""
    if tuple(names) == FEATURE_NAMES:
        return full.T
    out = np.full((len(names), full.shape[1]), np.nan)
    for j, name in enumerate(names):
        row = _ROW.get(name)
        if row is not None:
            out[j] = full[row]
    return out.T


def _streaming(env: RuleEnv, X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Fill the ``stream:NAME`` columns (streaming features, features.stream) from the hook the
    server puts in ``env.item_columns[STREAM_HOOK]``: ``(names, items) -> (items x names)``.
    Without a hook (or for a ranker that uses none) they stay NaN; the default names use none."""
    wanted = [j for j, n in enumerate(names) if n.startswith(STREAM_PREFIX)]
    hook = env.item_columns.get(STREAM_HOOK) if wanted else None
    if hook is not None:
        X[:, wanted] = hook([names[j][len(STREAM_PREFIX):] for j in wanted], env.items)
    return X


def candidate_features(env: RuleEnv, blend: np.ndarray, sources: Mapping[str, np.ndarray],
                       names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """The (candidates, len(names)) float64 feature matrix, columns in ``names`` order
    (Fortran-ordered: each feature's column is contiguous; the ranker reads it as is).

    ``env.item_columns`` should hold ``popularity`` and ``trending`` (full per-item arrays
    or callables), ``env.user`` the user state (or None), ``env.context`` the request context.
    """
    full = np.zeros((len(FEATURE_NAMES), len(env)))
    for s, row in _SOURCE_ROW.items():
        v = sources.get(s)
        if v is not None:
            full[row] = v
    _fill(env, full, blend)
    return _streaming(env, _named(full, names), names)


def candidate_features_from_parts(env: RuleEnv, blend: np.ndarray,
                                  parts: Sequence[tuple[str, float, np.ndarray, np.ndarray]],
                                  names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
    """``candidate_features(env, blend, source_scores(parts, env.items), names)`` with the
    sources' rows filled straight from ``parts`` in a few whole-pool operations."""
    items = env.items
    n = len(items)
    live = [p for p in parts if p[0] in _SOURCE_ROW and len(p[2])]
    if any(p[3].dtype != np.float64 for p in live):  # keep each source's own arithmetic
        return candidate_features(env, blend, source_scores(parts, items), names)
    nf = len(FEATURE_NAMES)
    buf = np.zeros(nf * n + 1)  # the matrix, then one scratch cell for items outside the pool
    full = buf[: nf * n].reshape(nf, n)
    if n and live:
        lens = [len(p[2]) for p in live]
        p_items = np.concatenate([p[2] for p in live]) if len(live) > 1 else live[0][2]
        p_scores = np.concatenate([p[3] for p in live]) if len(live) > 1 else live[0][3]
        starts = [0]
        for size in lens[:-1]:
            starts.append(starts[-1] + size)
        tops = np.maximum.reduceat(p_scores, starts).tolist()  # each source's max
        divisors = [1.0] * len(SOURCE_NAMES)
        for p, top in zip(live, tops):
            divisors[_SOURCE_ROW[p[0]] - _FIRST_SOURCE] = top or 1.0
        size = max(int(items.max()), int(p_items.max())) + 1
        if len(_Slots.table) < size:
            _Slots.table = np.full(max(size, 2 * len(_Slots.table)), _Slots.OUT, np.int64)
        table = _Slots.table
        table[items] = np.arange(n)
        try:
            cells = table[p_items]
        finally:
            table[items] = _Slots.OUT
        cells += np.repeat([_SOURCE_ROW[p[0]] * n for p in live], lens)
        # items outside the pool land past the matrix (clipped to the scratch cell); an item
        # repeated within a source keeps its last entry, as in source_scores
        np.put(buf, cells, p_scores, mode="clip")
        full[_FIRST_SOURCE:_N_SOURCES] /= np.array(divisors)[:, None]
    _fill(env, full, blend)
    return _streaming(env, _named(full, names), names)
