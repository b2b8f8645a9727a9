"""Candidate sources: each proposes (items, scores) for one request, best first.

A source also says which of the user's items led to its candidates, for explanations.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Callable

import numpy as np

from tastemaker.features.state import OnlineState, context_segments
from tastemaker.features.toplists import TopListCache
from tastemaker.features.user_state import UserState
from tastemaker.features.weights import interest_weight
from tastemaker.models.candidate_source import CandidateSource
from tastemaker.serving.request import RecommendationRequest

RECENCY_DECAY = 0.8  # weight of the k-th most recent item: 0.8**k
SEED_ITEMS = 8
_weight = itemgetter(1)
PER_SEED = 60  # strongest neighbours taken per seed item
_DECAY = [RECENCY_DECAY**rank for rank in range(SEED_ITEMS)]
_SEED_STRENGTH: dict[str, float] = {}  # event type -> seed weight (event weights are fixed at import)


@dataclass
class PipelineContext:
    state: OnlineState
    user: UserState | None
    request: RecommendationRequest
    model: CandidateSource
    toplists: TopListCache

    def available_mask(self) -> np.ndarray:
        catalog = self.state.catalog
        size = len(self.state.index)
        mask = np.zeros(size, dtype=bool)
        mask[: len(catalog.available)] = catalog.available[:size]
        return mask


Source = Callable[[PipelineContext, int], tuple[np.ndarray, np.ndarray, list[int]]]
_EMPTY = (np.zeros(0, np.int64), np.zeros(0), [])


def _recent_seeds(user: UserState | None, session_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The user's latest distinct items, weighted by recency and by how strong the event was."""
    if user is None or not user.n_recent:
        return np.zeros(0, np.int64), np.zeros(0)
    latest = user.latest_distinct(SEED_ITEMS, set(user.session_items) if session_only else None)
    weights = []
    for rank, (_, event_type) in enumerate(latest):
        strength = _SEED_STRENGTH.get(event_type)
        if strength is None:
            strength = _SEED_STRENGTH[event_type] = max(interest_weight(event_type, None), 1.0)
        weights.append(_DECAY[rank] * strength)
    return np.fromiter((item for item, _ in latest), np.int64, len(latest)), np.array(weights, dtype=np.float64)


def covisitation(ctx: PipelineContext, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Neighbours of the user's recent items; ``n`` caps each seed's share (the merge sums seeds)."""
    seeds, weights = _recent_seeds(ctx.user)
    if not len(seeds):
        return _EMPTY
    items, scores = ctx.state.covisitation.entries(seeds, weights, per_item=min(n, PER_SEED))
    return items, scores, seeds.tolist()


def session_covisitation(ctx: PipelineContext, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    seeds, weights = _recent_seeds(ctx.user, session_only=True)
    if not len(seeds):
        return _EMPTY
    items, scores = ctx.state.covisitation.entries(seeds, weights, per_item=min(n, PER_SEED))
    return items, scores, seeds.tolist()


def seed_covisitation(ctx: PipelineContext, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Neighbours of the item on screen (``item_id``); content-free fallback: its categories."""
    seed = ctx.state.index.get(ctx.request.item_id) if ctx.request.item_id else None
    if seed is None:
        return _EMPTY
    items, scores = ctx.state.covisitation.neighbors(np.array([seed]), np.ones(1), n)
    if len(items) < n:
        extra, extra_scores = same_category_popular(ctx, seed, n)
        fresh = ~np.isin(extra, items)  # a co-visited neighbour may share the category: list it once
        extra, extra_scores = extra[fresh], extra_scores[fresh]
        items = np.concatenate([items, extra])
        # below every co-visited neighbour, in popularity order
        floor = scores.min() if len(scores) else 1.0
        scores = np.concatenate([scores, floor * 0.5 * extra_scores / max(extra_scores.max(initial=0), 1e-12)])
    return items, scores, [seed]


def same_category_popular(ctx: PipelineContext, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    cats = ctx.state.catalog.categories.get(seed, ())
    if not cats:
        return np.zeros(0, np.int64), np.zeros(0)
    items, scores = category_popular(ctx, cats[0], n + 1)
    keep = items != seed
    return items[keep], scores[keep]


def category_popular(ctx: PipelineContext, category: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    members = ctx.state.catalog.category_members.get(category)
    if not members:
        return np.zeros(0, np.int64), np.zeros(0)

    toplists = ctx.toplists
    return toplists.top(f"category:{category}", lambda: toplists.array("popularity", ctx.state.popularity_scores), n,
                        ctx.available_mask, among=lambda: np.fromiter(members, np.int64, len(members)))


def category_affinity(ctx: PipelineContext, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Popular items of the user's favourite categories, weighted by the user's affinity."""
    if ctx.user is None or not ctx.user.affinity:
        return _EMPTY
    top = sorted(ctx.user.affinity.items(), key=_weight, reverse=True)[:2]
    total = sum(w for _, w in top) or 1.0
    parts_i, parts_s = [], []
    for category, weight in top:
        # Split the budget by affinity so a request costs the same however many categories.
        share = max(1, int(round(n * weight / total)))
        items, scores = category_popular(ctx, category, share)
        if len(items):
            parts_i.append(items)
            parts_s.append(scores * (weight / total / max(float(scores[0]), 1e-12)))  # top lists are sorted
    if not parts_i:
        return _EMPTY
    if len(parts_i) == 1:
        return parts_i[0], parts_s[0], []
    return np.concatenate(parts_i), np.concatenate(parts_s), []


def user_model(ctx: PipelineContext, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    items, scores = ctx.model.candidates(ctx.state, ctx.user, n)
    return items, scores, []


def trending(ctx: PipelineContext, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    items, scores = ctx.toplists.top("trending", ctx.state.trending, n, ctx.available_mask)
    return items, scores, []


def popular(ctx: PipelineContext, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    items, scores = ctx.toplists.top("popular", ctx.state.popularity_scores, n, ctx.available_mask)
    return items, scores, []


def context_popular(ctx: PipelineContext, n: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Popular among requests with the same context (device, channel, locale, country)."""
    parts_i, parts_s = [], []
    for segment in context_segments(ctx.request.context):
        if segment in ctx.state.segments:
            items, scores = ctx.toplists.top(
                f"segment:{segment}", lambda s=segment: ctx.state.popularity_scores(s), n, ctx.available_mask
            )
            if len(items):
                parts_i.append(items)
                parts_s.append(scores / max(scores.max(), 1e-12))
    if not parts_i:
        return _EMPTY
    return np.concatenate(parts_i), np.concatenate(parts_s), []


SOURCES: dict[str, Source] = {
    "covisitation": covisitation,
    "session_covisitation": session_covisitation,
    "seed_covisitation": seed_covisitation,
    "category_affinity": category_affinity,
    "user_model": user_model,
    "trending": trending,
    "popular": popular,
    "context_popular": context_popular,
}
