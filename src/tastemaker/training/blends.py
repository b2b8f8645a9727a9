"""Learn each placement's blend on the served lists: source weights and quotas.

The placements blend their candidate sources (the learned model, co-visitation, session,
category affinity, trending, context popularity) with weights. Set by hand, those weights
decide more of the served figure than the model does. The train job learns them instead,
on a validation cut carved from the training events: the state replayed without the
held-out cells, a model fitted without them, and the *serving* pipeline asked for each
validation user's list (:mod:`tastemaker.evaluation.served`), scored against what was held out.

Search: coordinate ascent from the placement's own weights (so the learned blend is never
worse than those on the validation users): for each source in turn, the weight is tried at
0 and scaled by each of :data:`STEPS` (:func:`neighbours`; a multiplicative step reaches a
weight ten times larger in two rounds, at five evaluations a source rather than a dozen
for a fixed grid), and the best kept; rounds repeat until one changes nothing. Then each
source still in the blend tries the quotas of :data:`QUOTAS`. A source learned at weight 0
leaves the placement (it would cost time and add nothing). Weights written in a placement
document are never changed (:func:`~tastemaker.serving.placements.learnable`).

The sources are memoised per request for the search (the state is frozen), so each
evaluation costs the blend, the screen and the cut: the same code, not its results cached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tastemaker.evaluation.served import HeldOutUser, served_ndcg
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.placements import Placement, learnable, with_blend
from tastemaker.serving.recommender import Recommender
from tastemaker.serving.sources import PipelineContext, Source

STEPS = (0.0, 0.25, 0.5, 2.0, 4.0)  # a round tries each source's weight times these
RESTART = 0.1  # the weight a dropped source is tried at again
QUOTAS = (50, 100, 200)
ROUNDS = 4
MIN_GAIN = 1e-4  # an nDCG gain below this is noise on a few hundred users: keep the simpler blend


def _memoised(sources: dict[str, Source]) -> dict[str, Source]:
    """Each source answering once per (user, item on screen, n): the state does not move."""
    def wrap(name: str, source: Source) -> Source:
        cache: dict[tuple, Any] = {}

        def cached(ctx: PipelineContext, n: int):
            key = (ctx.request.user_id, ctx.request.item_id, n)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = source(ctx, n)
            return hit
        return cached
    return {name: wrap(name, source) for name, source in sources.items()}


def neighbours(weight: float) -> list[float]:
    """The weights a round tries for a source now at ``weight``: off, and scaled around it
    (a source at 0 is tried back at :data:`RESTART`), at most 4 decimals.

    >>> neighbours(1.0), neighbours(0.0)
    ([0.0, 0.25, 0.5, 2.0, 4.0], [0.1])
    """
    if weight == 0:
        return [RESTART]
    return [round(weight * step, 4) for step in STEPS]


def learn_blend(recommender: Recommender, placement: Placement, users: Sequence[HeldOutUser], n: int = 10,
                progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The blend of ``placement`` that serves ``users`` best: ``{"weights", "n", "ndcg",
    "start_ndcg", "users"}`` (weights and quotas of the learnable sources only)."""
    names = learnable(placement)
    table, sources = recommender.placements, recommender.sources
    recommender.sources = _memoised(dict(sources))
    weights = {s: placement.sources[s].weight for s in names}
    quotas = {s: placement.sources[s].n for s in names}

    def score(w: dict[str, float], q: dict[str, int]) -> float:
        variant = with_blend(placement, w, q)
        if not variant.sources:
            return -1.0
        recommender.placements = PlacementRegistry(placements={placement.name: variant})
        return served_ndcg(recommender, users, placement.name, n)

    try:
        best = start = score(weights, quotas)
        for _ in range(ROUNDS if names else 0):
            changed = False
            for source in names:
                for g in neighbours(weights[source]):
                    value = score({**weights, source: g}, quotas)
                    if value > best + MIN_GAIN:
                        best, weights, changed = value, {**weights, source: g}, True
            if not changed:
                break
        for source in names:
            if weights[source] == 0:
                continue
            for k in QUOTAS:
                if k != quotas[source]:
                    value = score(weights, {**quotas, source: k})
                    if value > best + MIN_GAIN:
                        best, quotas = value, {**quotas, source: k}
    finally:
        recommender.placements, recommender.sources = table, sources
    if progress is not None:
        progress(f"{placement.name}: served ndcg@{n} {start:.4f} -> {best:.4f} "
                 + " ".join(f"{s}={weights[s]:g}" for s in names))
    return {"weights": weights, "n": {s: quotas[s] for s in names if weights[s] > 0}, "ndcg": best,
            "start_ndcg": start, "users": len(users)}


def learn_blends(recommender: Recommender, placements: PlacementRegistry, users: Sequence[HeldOutUser],
                 n: int = 10, progress: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """:func:`learn_blend` for every placement in force with weights to learn."""
    out = {}
    for name in placements.names():
        placement = placements.get(name)
        if placement is not None and learnable(placement):
            out[name] = learn_blend(recommender, placement, users, n, progress)
    return out
