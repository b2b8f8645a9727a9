"""Topping a short list up to ``n`` from fallback sources, below everything the sources found.

The sources can come back short for ordinary reasons: a new user has no history, a user's
seen or purchased items remove most candidates, a ``category`` filter keeps a few. And for
one that is easy to miss: popularity and trending are *decayed* counts, "popular now", and
``now`` is the latest event time. When one live event is much newer than the rest (a data
set from 1998 loaded, then one view posted today), every older count decays to exactly 0
and "popular now" holds one item: every placement answered 1 item instead of ``n``.

So the backfill has two tiers, each filtered like the sources' candidates
(:func:`~tastemaker.serving.filters.allowed`: catalogue, ``exclude``, ``category``,
``brand``, the user's history as the placement treats it):

1. ``popular``: the decayed popularity list (of the request's ``category`` when it has one);
2. ``catalog``: every other eligible catalogue item, most co-visited first (the
   co-visitation index's row sums, which never decay: all-time engagement), then in index
   order. It runs only when tier 1 is short, and then costs one pass over the catalogue.

A list is short of ``n`` after the backfill only when fewer than ``n`` items are eligible.
"""

from __future__ import annotations

import numpy as np

from tastemaker.candidates import Candidates
from tastemaker.serving.filters import allowed
from tastemaker.serving.placements import Placement
from tastemaker.serving.sources import PipelineContext, category_popular, popular

BACKFILL_EXTRA = 200  # popular items fetched beyond n: room for what the filters drop
BELOW = 0.5  # a tier's best score, as a share of the lowest score above it


def backfill(ctx: PipelineContext, placement: Placement, have: Candidates, n: int,
             require_catalog: bool) -> Candidates:
    """``have`` topped up to ``n`` items (when enough are eligible), fallbacks ranked last."""
    if len(have) >= n:
        return have
    excluded = len(ctx.user.excluded()) if ctx.user else 0
    want = n + BACKFILL_EXTRA + excluded + len(ctx.request.exclude)
    if ctx.request.category is not None:
        items, scores = category_popular(ctx, ctx.request.category, want)
    else:
        items, scores, _ = popular(ctx, want)
    items, scores = _eligible(ctx, placement, have.items, items, scores, require_catalog)
    floor = float(have.scores.min()) if len(have) else 1.0
    out = _append(have, items, _below(floor, scores), "popular")
    if len(out) >= n:
        return out
    rest = np.arange(len(ctx.state.index), dtype=np.int64)
    sums = ctx.state.covisitation.row_sums
    weight = np.zeros(len(rest))
    weight[: min(len(sums), len(rest))] = sums[: len(rest)]
    rest, weight = _eligible(ctx, placement, out.items, rest, weight, require_catalog)
    floor = float(out.scores.min()) if len(out) else 1.0
    # 1 for the most co-visited, 1/2 for never co-visited: the order is the weights', ties
    # (all the never co-visited items) go in index order (Candidates.top)
    relative = 1.0 + weight / max(float(weight.max(initial=0.0)), 1e-12)
    return _append(out, rest, _below(floor, relative), "catalog")


def _eligible(ctx: PipelineContext, placement: Placement, taken: np.ndarray, items: np.ndarray,
              scores: np.ndarray, require_catalog: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``items`` (with their ``scores``) not already ``taken`` that pass every filter."""
    fresh = ~np.isin(items, taken)
    items, scores = items[fresh], scores[fresh]
    keep = allowed(ctx, placement, items, require_catalog)
    return items[keep], scores[keep]


def _below(floor: float, scores: np.ndarray) -> np.ndarray:
    """``scores`` rescaled to ``(0, BELOW * floor]``, order kept: under everything above."""
    return floor * BELOW * scores / max(float(scores.max(initial=0.0)), 1e-12)


def _append(have: Candidates, items: np.ndarray, scores: np.ndarray, source: str) -> Candidates:
    if not len(items):
        return have
    # one object array, the new rows all referring to the one ``source`` string: np.full
    # would make a str object per row (~70 ms for the catalogue tier over a million items)
    sources = np.empty(len(have) + len(items), dtype=object)
    sources[: len(have)] = have.sources
    sources[len(have):] = source
    return Candidates(np.concatenate([have.items, items]), np.concatenate([have.scores, scores]), sources,
                      have.because)
