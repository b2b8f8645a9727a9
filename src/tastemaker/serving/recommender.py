"""The recommendation pipeline: sources → merge → filters → penalties → top-n → response."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from tastemaker.features.state import OnlineState
from tastemaker.features.toplists import TopListCache
from tastemaker.models.base import CandidateModel
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.candidates import Candidates, merge
from tastemaker.serving.explanations import explain
from tastemaker.serving.filters import allowed, screen
from tastemaker.serving.placements import Placement, PlacementRegistry
from tastemaker.serving.request import RecommendationRequest
from tastemaker.serving.sources import SOURCES, PipelineContext, category_popular, popular

BACKFILL_EXTRA = 200


class UnknownPlacement(ValidationFailed):
    pass


@dataclass
class Recommender:
    state: OnlineState
    model: CandidateModel
    toplists: TopListCache
    placements: PlacementRegistry
    require_catalog: bool = True

    def placement(self, name: str) -> Placement:
        placement = self.placements.get(name)
        if placement is None:
            known = ", ".join(self.placements.names())
            raise UnknownPlacement([FieldError("placement", f"unknown placement '{name}'; known: {known}")], status=404, title="Unknown placement")
        return placement

    def candidates(self, request: RecommendationRequest) -> tuple[Candidates, PipelineContext]:
        placement = self.placement(request.placement)
        ctx = PipelineContext(self.state, self.state.users.get(request.user_id), request, self.model, self.toplists)
        parts, because = [], {}
        for name, spec in placement.sources.items():
            items, scores, seeds = SOURCES[name](ctx, spec.n)
            parts.append((name, spec.weight, items, scores))
            if seeds:
                because[name] = seeds
        merged = merge(parts)
        merged.because = because
        merged = screen(ctx, placement, merged, self.require_catalog)
        n = request.n
        if len(merged) < n:
            merged = self._backfill(ctx, placement, merged, n)
        return merged.top(n), ctx

    def _backfill(self, ctx: PipelineContext, placement: Placement, have: Candidates, n: int) -> Candidates:
        """Fill a short list with popular items that pass the same filters, below everything else."""
        want = n + BACKFILL_EXTRA + len(ctx.user.excluded() if ctx.user else ()) + len(ctx.request.exclude)
        if ctx.request.category is not None:
            items, scores = category_popular(ctx, ctx.request.category, want)
        else:
            items, scores, _ = popular(ctx, want)
        fresh = ~np.isin(items, have.items)
        items, scores = items[fresh], scores[fresh]
        keep = allowed(ctx, placement, items, self.require_catalog)
        items, scores = items[keep], scores[keep]
        floor = have.scores.min() if len(have) else 1.0
        scaled = floor * 0.5 * scores / max(scores.max(initial=0.0), 1e-12)
        return Candidates(
            np.concatenate([have.items, items]),
            np.concatenate([have.scores, scaled]),
            np.concatenate([have.sources, np.full(len(items), "popular", dtype=object)]),
            have.because,
        )

    def recommend(self, request: RecommendationRequest) -> dict[str, Any]:
        """The response body of ``GET /v1/recommendations``."""
        top, ctx = self.candidates(request)
        ids = self.state.index.ids
        scores = np.round(top.scores, 6).tolist()
        out = [{"id": ids[pos], "score": score, "source": source}
               for pos, score, source in zip(top.items.tolist(), scores, top.sources.tolist())]
        if request.explain:
            for entry, pos in zip(out, top.items.tolist()):
                entry["explanation"] = explain(self.state, pos, entry["source"], top.because.get(entry["source"], []))
        return {
            "recommendation_id": os.urandom(12).hex(),
            "placement": request.placement,
            "items": out,
            "model_version": f"{self.model.name}-{self.model.version}",
        }

    def similar(self, item_id: str, n: int) -> list[dict[str, Any]]:
        """Items similar to ``item_id``: co-visitation, then same-category popular, then popular."""
        request = RecommendationRequest(user_id="", placement="product-page", n=n, item_id=item_id)
        placement = Placement("similar", {"seed_covisitation": self.placement("product-page").sources["seed_covisitation"]})
        ctx = PipelineContext(self.state, None, request, self.model, self.toplists)
        items, scores, _ = SOURCES["seed_covisitation"](ctx, n + BACKFILL_EXTRA)
        cands = Candidates(items, scores, np.full(len(items), "covisitation", dtype=object))
        cands = cands.keep(allowed(ctx, placement, cands.items, self.require_catalog))
        if len(cands) < n:
            cands = self._backfill(ctx, placement, cands, n)
        top = cands.top(n)
        ids = self.state.index.ids
        return [{"id": ids[p], "score": round(s, 6), "source": src} for p, s, src in zip(top.items.tolist(), top.scores.tolist(), top.sources.tolist())]
