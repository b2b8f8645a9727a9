"""The recommendation pipeline.

sources → merge → screen (filters + seen penalty) → backfill → top-n, and for a placement
that configures them (``Placement.staged``), on a pool of the best ``POOL`` candidates:
learned ranker (LambdaMART over logged features) → business rules (filters, boosts, pins'
items, margin) → popularity discount → calibration or MMR diversity → minimum exposure →
caps and pins → top-n → explanations (the rules that moved each item) → impression log.
The built-in placements configure none of it and skip all of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from tastemaker.features.state import OnlineState
from tastemaker.features.toplists import TopListCache
from tastemaker.models.base import CandidateModel
from tastemaker.ranking.calibration import calibrate_codes, target_by_code
from tastemaker.ranking.diversity import embedding_features, mmr, swap
from tastemaker.ranking.fairness import ensure_min_exposure, popularity_discount
from tastemaker.ranking.features import FEATURE_NAMES, candidate_features_from_parts
from tastemaker.rules.engine import RuleTrace, score_order
from tastemaker.rules.env import RuleEnv
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.backfill import BACKFILL_EXTRA, backfill
from tastemaker.serving.candidates import Candidates, merge
from tastemaker.serving.explanations import explain
from tastemaker.serving.filters import _catalog_and_request_mask as catalog_and_request_mask
from tastemaker.serving.filters import allowed, screen
from tastemaker.serving.ids import recommendation_ids
from tastemaker.serving.placements import Placement, PlacementRegistry, apply_overrides
from tastemaker.serving.request import RecommendationRequest
from tastemaker.serving.sources import SOURCES, PipelineContext

POOL = 100  # candidates the ranking stages see (rules, ranker, diversity, fairness)


class UnknownPlacement(ValidationFailed):
    pass


@dataclass
class _Staged:
    """What the ranking stages leave for the response: the explanation trace, and the
    feature rows of the served items when the placement logs impressions."""

    trace: Any = None
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()


@dataclass
class Recommender:
    state: OnlineState
    model: CandidateModel
    toplists: TopListCache
    placements: PlacementRegistry
    require_catalog: bool = True
    rankers: Any = None  # serving.rankers.RankerSet: the learned ranker per placement
    impressions: Any = None  # serving.impressions.ImpressionLogger: where served lists go
    clock: Callable[[], float] = time.time  # "now" for schedules, item age and context features
    _columns: dict[str, tuple[float, np.ndarray]] = field(default_factory=dict, repr=False)
    _embeddings: tuple[Any, np.ndarray | None] = field(default=(None, None), repr=False)

    def placement(self, name: str) -> Placement:
        placement = self.placements.get(name)
        if placement is None:
            known = ", ".join(self.placements.names())
            raise UnknownPlacement([FieldError("placement", f"unknown placement '{name}'; known: {known}")], status=404, title="Unknown placement")
        return placement

    def candidates(self, request: RecommendationRequest) -> tuple[Candidates, PipelineContext]:
        top, ctx, _ = self._run(request)
        return top, ctx

    def resolve(self, request: RecommendationRequest) -> Placement:
        """The request's placement with its per-request overrides applied (400 on a refused one)."""
        placement = self.placement(request.placement)
        if request.overrides:
            try:
                placement = apply_overrides(placement, request.overrides)
            except ValidationFailed as exc:
                raise ValidationFailed(exc.errors, title="Invalid recommendation request", status=400) from None
        return placement

    def _run(self, request: RecommendationRequest) -> tuple[Candidates, PipelineContext, _Staged | None]:
        self.placements.reload_if_changed()  # a stat at most once a second, and only with a file
        placement = self.resolve(request)
        n = placement.n if request.default_n else request.n
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
        if placement.staged:
            return self._ranked(ctx, placement, merged, parts, n)
        if len(merged) < n:
            merged = self._backfill(ctx, placement, merged, n)
        return merged.top(n), ctx, None

    # -- the ranking stages (configured placements only) -----------------------------------
    def _item_column(self, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """A whole-catalog column (popularity, trending), recomputed at most every toplist TTL."""
        now = self.toplists.clock()
        entry = self._columns.get(name)
        if entry is None or now - entry[0] > self.toplists.ttl:
            entry = self._columns[name] = (now, compute())
        return entry[1]

    def _embedding_table(self) -> np.ndarray | None:
        """Item vectors of the serving model, indexed like the online state (None when the
        model has none: MMR "by embeddings" then falls back to categories)."""
        model = self.model
        if self._embeddings[0] is model:
            return self._embeddings[1]
        table = None
        fitted = getattr(getattr(model, "artifact", None), "model", None)
        vectors = next((getattr(fitted, a) for a in ("item_factors", "item_embeddings", "item_vectors")
                        if isinstance(getattr(fitted, a, None), np.ndarray)), None)
        positions = getattr(model, "positions", None)
        if vectors is not None and vectors.ndim == 2 and positions is not None and len(positions) == len(vectors):
            table = np.zeros((int(positions.max(initial=-1)) + 1, vectors.shape[1]))
            table[positions] = vectors
        self._embeddings = (model, table)
        return table

    def _screen_pins(self, ctx: PipelineContext, placement: Placement, rules: Any, pool: Candidates, now: float,
                     trace: Any) -> Any:
        """The rules without pins whose item the request or the user's history excludes (out of
        stock, purchased, ``exclude``, another category...): a pin adds its item to the
        candidates, so it must pass what the sources' candidates passed. Filters win over pins."""
        from dataclasses import replace

        index = self.state.index
        items = pool.items
        keep = []
        for pin in rules.pins:
            pos = index.get(pin.item_id)
            if pos is None or (items == pos).any() or not pin.schedule.active(now) \
                    or self._pin_allowed(ctx, placement, pos):
                keep.append(pin)
            elif trace is not None:
                trace.drop(pos, pin.name, "pin dropped: excluded by the request, the catalog or the user's history")
        return rules if len(keep) == len(rules.pins) else replace(rules, pins=tuple(keep))

    def _pin_allowed(self, ctx: PipelineContext, placement: Placement, pos: int) -> bool:
        """:func:`~tastemaker.serving.filters.allowed` for one item, with set lookups in the
        user's history instead of a pass over all of it."""
        if not catalog_and_request_mask(ctx, placement, np.array([pos], np.int64), self.require_catalog)[0]:
            return False
        user = ctx.user
        if user is None:
            return True
        if not (ctx.request.include_purchased or placement.include_purchased) and (
                pos in user.purchased or pos in user.rated or pos in user.disliked):
            return False
        return not (placement.exclude_seen and pos in user.seen)

    def _popularity(self) -> np.ndarray:
        return self._item_column("popularity", self.state.popularity_scores)

    def _trending(self) -> np.ndarray:
        return self._item_column("trending", self.state.trending)

    def _ranked(self, ctx: PipelineContext, placement: Placement, merged: Candidates, parts: list,
                n: int) -> tuple[Candidates, PipelineContext, _Staged]:
        state, request = self.state, ctx.request
        want = max(n, min(POOL, 3 * n))  # room for what rules filter out
        if len(merged) < want:
            merged = self._backfill(ctx, placement, merged, want)
        pool = merged.top(max(POOL, n))
        # one env for the request: every stage reads its columns from it, each gathered once
        env = RuleEnv(state.catalog, pool.items, self.clock(), pool.scores, pool.sources, ctx.user,
                      {"popularity": self._popularity, "trending": self._trending}, request.context)
        staged = _Staged(trace=RuleTrace() if request.explain else None)
        trace = staged.trace

        # learned ranker; features are computed (and logged) whenever the placement logs
        ltr = placement.ranker == "ltr"
        ranker = self.rankers.get(placement.name) if ltr and self.rankers is not None else None
        logging_on = self.impressions is not None and (ltr or placement.log_impressions)
        feature_items = X = None
        if (ranker is not None or logging_on) and len(pool):
            names = ranker.feature_names if ranker is not None else FEATURE_NAMES
            X = candidate_features_from_parts(env, pool.scores, parts, names)
            feature_items, staged.feature_names = pool.items, tuple(names)
            if ranker is not None:
                raw = ranker.score(X)
                lo, hi = float(raw.min()), float(raw.max())
                # positive and order-preserving, so boosts and buries keep their meaning
                scores = 0.01 + 0.99 * (raw - lo) / (hi - lo) if hi > lo else np.ones(len(raw))
                pool = Candidates(pool.items, scores, pool.sources, pool.because)
                env.set_scores(scores)

        rules = placement.rules
        if rules.pins:
            rules = self._screen_pins(ctx, placement, rules, pool, env.now, trace)
        if rules:
            pool, env = rules.score(pool, env, trace)
        scores = pool.scores
        fairness = placement.fairness
        if fairness is not None and fairness.popularity_penalty > 0 and len(pool):
            scores = popularity_discount(scores, env.column("popularity"), fairness.popularity_penalty)
            pool = Candidates(pool.items, scores, pool.sources, pool.because)
        order = score_order(scores, pool.items)
        relevance_order = order
        moved_by = None
        diversity = placement.diversity
        if diversity is not None and len(pool) > 1:
            user = ctx.user
            if diversity.calibration > 0 and user is not None and user.affinity:
                codes, shares = target_by_code(user.affinity, state.catalog.category_ids)
                order = calibrate_codes(scores, env.group_codes("category"), codes, shares, n, diversity.calibration)
                moved_by = "calibration"
            elif diversity.lambda_ > 0:
                table = self._embedding_table() if diversity.by == "embeddings" else None
                features = embedding_features(env, table) if table is not None else env.group_codes("category")
                if diversity.method == "swap":
                    order = swap(scores, features, n, diversity.lambda_)
                elif diversity.method == "mmr-sum":
                    order = mmr(scores, features, n, diversity.lambda_, penalty="sum", order="relevance")
                else:
                    order = mmr(scores, features, n, diversity.lambda_)
                moved_by = "diversity"
        if fairness is not None and fairness.min_exposure:
            for kind, groups in fairness.min_exposure.items():
                ids = state.catalog.brand_ids if kind == "brand" else state.catalog.category_ids
                shares_by_code = {ids[g]: s for g, s in groups if g in ids}
                if shares_by_code:
                    before = order
                    order = ensure_min_exposure(order, env.group_codes(kind), shares_by_code, n)
                    if trace is not None and moved_by is None and not np.array_equal(before, order):
                        moved_by = "minimum exposure"
        if trace is not None and moved_by is not None:
            _trace_reorder(pool.items, relevance_order, order, n, moved_by, trace)
        top, rows = rules.arrange_order(pool, env, order, n, trace)
        if X is not None and logging_on:
            staged.features = _served_rows(feature_items, X, pool.items, rows, top.items)
        return top, ctx, staged

    def _backfill(self, ctx: PipelineContext, placement: Placement, have: Candidates, n: int) -> Candidates:
        """Top a short list up to ``n`` (:func:`tastemaker.serving.backfill.backfill`)."""
        return backfill(ctx, placement, have, n, self.require_catalog)

    def recommend(self, request: RecommendationRequest) -> dict[str, Any]:
        """The response body of ``GET /v1/recommendations``."""
        top, ctx, staged = self._run(request)
        ids = self.state.index.ids
        scores = np.round(top.scores, 6).tolist()
        positions = top.items.tolist()
        out = [{"id": ids[pos], "score": score, "source": source}
               for pos, score, source in zip(positions, scores, top.sources.tolist())]
        trace = staged.trace if staged is not None else None
        if request.explain:
            for entry, pos in zip(out, positions):
                entry["explanation"] = explain(self.state, pos, entry["source"], top.because.get(entry["source"], []),
                                               rules=trace.for_item(pos) if trace is not None else None)
        body = {
            "recommendation_id": recommendation_ids.next(),
            "placement": request.placement,
            "items": out,
            "model_version": f"{self.model.name}-{self.model.version}",
        }
        if trace is not None and trace.dropped:
            pins = [d for d in trace.dropped if d["effect"].startswith("pin dropped")]
            if pins:
                body["rules_dropped"] = [{"id": ids[d["item"]], "rule": d["rule"], "effect": d["effect"]} for d in pins]
        if staged is not None and staged.features is not None:
            from tastemaker.storage.protocols import ImpressionRecord

            self.impressions.log(ImpressionRecord(
                body["recommendation_id"], request.placement, request.user_id, self.clock(), [out_["id"] for out_ in out],
                staged.features, staged.feature_names, self.state.applied_seq))
        return body

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


def _served_rows(feature_items: np.ndarray, X: np.ndarray, pool_items: np.ndarray, rows: np.ndarray,
                 served: np.ndarray) -> np.ndarray:
    """``_rows_for(feature_items, X, served)``, where ``served = pool_items[rows]``: when the
    rules kept the featurised candidates in place (at most adding pinned items after them),
    the rows of ``X`` are ``rows`` themselves, with NaN for the pinned items added."""
    k = len(feature_items)
    if pool_items is feature_items or (len(pool_items) >= k and np.array_equal(pool_items[:k], feature_items)):
        hit = rows < k
        if hit.all():
            return np.ascontiguousarray(X[rows])
        out = np.full((len(rows), X.shape[1]), np.nan)
        out[hit] = X[rows[hit]]
        return out
    return _rows_for(feature_items, X, served)


def _rows_for(items: np.ndarray, X: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Rows of ``X`` (aligned with ``items``) for ``wanted``, NaN for items not among them
    (a pinned item the sources did not propose)."""
    order = np.argsort(items, kind="stable")
    at = np.searchsorted(items, wanted, sorter=order).clip(max=max(len(items) - 1, 0))
    rows = order[at] if len(items) else np.zeros(len(wanted), np.int64)
    hit = items[rows] == wanted if len(items) else np.zeros(len(wanted), bool)
    out = np.full((len(wanted), X.shape[1]), np.nan)
    out[hit] = X[rows[hit]]
    return out


def _trace_reorder(items: np.ndarray, before: np.ndarray, after: np.ndarray, n: int, stage: str, trace: Any) -> None:
    """Record, for the first ``n`` rows of ``after``, the items a re-ranking stage moved."""
    rank = np.empty(len(before), np.int64)
    rank[before] = np.arange(len(before))
    for k, row in enumerate(after[:n].tolist()):
        if rank[row] != k:
            trace.add(int(items[row]), stage, f"re-ranked: rank {rank[row] + 1} -> {k + 1}")
