"""The recommendation pipeline.

sources → merge → screen (filters + seen penalty) → backfill → top-n, and for a placement
that configures them (``Placement.staged``), on a pool of the best ``POOL`` candidates, the
ranking stages of :mod:`tastemaker.serving.stages` (learned ranker, business rules,
popularity discount, calibration or diversity, minimum exposure, caps and pins, impression
capture) → explanations (the rules that moved each item) → impression log. The built-in
placements configure none of it and skip all of it.

Experiments (:mod:`tastemaker.serving.experiments`): before the pipeline, the request is
assigned (holdout, variants); a variant's override changes the placement and its model
version the model; the response and the impression log carry ``experiments``. A placement
with a ``bandit:`` section (:mod:`tastemaker.serving.bandits`) has its arm chosen before the
pipeline: a strategy's override changes the placement, an item takes its slot; the response
carries ``bandit`` and an ``experiments`` entry with the propensity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from tastemaker.features.context import EnrichedContext
from tastemaker.features.state import OnlineState
from tastemaker.features.toplists import TopListCache
from tastemaker.models.candidate_source import CandidateSource
from tastemaker.ranking.features import STREAM_HOOK
from tastemaker.rules.engine import RuleTrace
from tastemaker.rules.env import RuleEnv
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.backfill import BACKFILL_EXTRA, backfill
from tastemaker.candidates import Candidates, merge
from tastemaker.experiments.assignment import NOT_ASSIGNED, Assigned
from tastemaker.serving.explanations import explain
from tastemaker.serving.filters import allowed, screen
from tastemaker.serving.ids import recommendation_ids
from tastemaker.serving.placement_registry import PlacementRegistry
from tastemaker.serving.placements import Placement, apply_overrides, with_blend
from tastemaker.serving.request import RecommendationRequest
from tastemaker.serving.sources import SOURCES, PipelineContext, Source
from tastemaker.serving.stages import Stage, StageContext, run_stages, stages_for

POOL = 100  # candidates the ranking stages see (rules, ranker, diversity, fairness)


class UnknownPlacement(ValidationFailed):
    pass


@dataclass
class Recommender:
    state: OnlineState
    model: CandidateSource
    toplists: TopListCache
    placements: PlacementRegistry
    require_catalog: bool = True
    rankers: Any = None  # serving.rankers.RankerSet: the learned ranker per placement
    impressions: Any = None  # serving.impressions.ImpressionLogger: where served lists go
    experiments: Any = None  # serving.experiments.ExperimentRouter: assignment and variant overrides
    bandits: Any = None  # serving.bandits.BanditServing: the arm of a placement with a bandit section
    segments: Any = None  # serving.segments.SegmentBook: the user's segments, for rules reading user.segments
    nba: Any = None  # serving.next_best_action.NbaServing: placements that choose an action
    clock: Callable[[], float] = time.time  # "now" for schedules, item age and context features
    # the ranking stages of a configured placement (an experiment may choose them per variant)
    stages: Callable[[Placement], tuple[Stage, ...] | list[Stage]] = stages_for
    # the candidate sources by name (blend learning memoises them: the state is frozen there)
    sources: Mapping[str, Source] = field(default_factory=lambda: SOURCES)
    _blended: dict[tuple[str, int], tuple[Placement, Any, Placement]] = field(default_factory=dict, repr=False)
    _columns: dict[str, tuple[float, np.ndarray]] = field(default_factory=dict, repr=False)
    _embeddings: tuple[Any, np.ndarray | None] = field(default=(None, None), repr=False)

    def placement(self, name: str) -> Placement:
        placement = self.placements.get(name)
        if placement is None:
            known = ", ".join(self.placements.names())
            raise UnknownPlacement([FieldError("placement", f"unknown placement '{name}'; known: {known}")], status=404, title="Unknown placement")
        return placement

    def candidates(self, request: RecommendationRequest) -> tuple[Candidates, PipelineContext]:
        top, ctx, _, _ = self._run(request)
        return top, ctx

    def resolve(self, request: RecommendationRequest, model: Any = None, assigned: Assigned = NOT_ASSIGNED,
                arm: Any = None) -> Placement:
        """The request's placement, with ``model``'s (default: the serving version's) learned
        blend (where the document wrote no weight), the variants of ``assigned`` and the
        per-request overrides applied (400 on a refused one)."""
        placement = self.learned(self.placement(request.placement), model)
        if assigned.exposures:
            placement = self.experiments.apply(placement, assigned)
        if arm is not None:  # a bandit's chosen strategy (serving/bandits.py)
            placement = self.bandits.apply(placement, arm)
        if request.overrides:
            try:
                placement = apply_overrides(placement, request.overrides)
            except ValidationFailed as exc:
                raise ValidationFailed(exc.errors, title="Invalid recommendation request", status=400) from None
        return placement

    def learned(self, placement: Placement, model: Any = None) -> Placement:
        """``placement`` with the blend ``model`` (default: the serving version) learned for
        it, if any (:func:`~tastemaker.serving.placements.with_blend`); worked out once per
        placement and version, so a request pays a dict lookup."""
        model = self.model if model is None else model
        key = (placement.name, id(model))
        cached = self._blended.get(key)
        if cached is not None and cached[0] is placement and cached[1] is model:
            return cached[2]
        blend = getattr(model, "blends", {}).get(placement.name)
        out = with_blend(placement, blend["weights"], blend.get("n")) if blend else placement
        if len(self._blended) > 1024:  # models come and go (promotions, experiments): keep it bounded
            self._blended.clear()
        self._blended[key] = (placement, model, out)
        return out

    def _run(self, request: RecommendationRequest, personalize: bool = True, log: bool = True,
             assigned: Assigned = NOT_ASSIGNED, arm: Any = None) -> tuple[Candidates, PipelineContext, StageContext | None, Placement]:
        self.placements.reload_if_changed()  # a stat at most once a second, and only with a file
        model = self.model
        if assigned.exposures:
            model = self.experiments.model(assigned, model)
            personalize = personalize and not assigned.holdout
        placement = self.resolve(request, model, assigned, arm)
        n = placement.n if request.default_n else request.n
        # Without personalization consent the pipeline runs as for a user it never saw: every
        # source, filter, rule and explanation reads the user only through ctx.user.
        user = self.state.users.get(request.user_id) if personalize else None
        ctx = PipelineContext(self.state, user, request, model, self.toplists)
        parts, because = [], {}
        for name, spec in placement.sources.items():
            items, scores, seeds = self.sources[name](ctx, spec.n)
            parts.append((name, spec.weight, items, scores))
            if seeds:
                because[name] = seeds
        merged = merge(parts)
        merged.because = because
        merged = screen(ctx, placement, merged, self.require_catalog)
        if placement.staged:
            return (*self._ranked(ctx, placement, merged, parts, n, log), placement)
        if len(merged) < n:
            merged = self._backfill(ctx, placement, merged, n)
        return merged.top(n), ctx, None, placement

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
        known = model.item_vectors()
        if known is not None:
            positions, vectors = known
            table = np.zeros((int(positions.max(initial=-1)) + 1, vectors.shape[1]))
            table[positions] = vectors
        self._embeddings = (model, table)
        return table

    def _popularity(self) -> np.ndarray:
        return self._item_column("popularity", self.state.popularity_scores)

    def _trending(self) -> np.ndarray:
        return self._item_column("trending", self.state.trending)

    def _ranked(self, ctx: PipelineContext, placement: Placement, merged: Candidates, parts: list,
                n: int, log: bool = True) -> tuple[Candidates, PipelineContext, StageContext]:
        """The placement's stages (:mod:`tastemaker.serving.stages`) on a pool of its best candidates."""
        state, request = self.state, ctx.request
        want = max(n, min(POOL, 3 * n))  # room for what rules filter out
        if len(merged) < want:
            merged = self._backfill(ctx, placement, merged, want)
        pool = merged.top(max(POOL, n))
        # one env for the request: every stage reads its columns from it, each gathered once
        now = self.clock()
        # derived fields (device from the user agent, local time, is_holiday) computed when first read
        book = self.segments
        env = RuleEnv(state.catalog, pool.items, now, pool.scores, pool.sources, ctx.user,
                      {"popularity": self._popularity, "trending": self._trending,  # stream:* ranker columns:
                       STREAM_HOOK: lambda names, items: state.features.candidate_columns(names, items,
                                                                                           request.user_id, now)},
                      EnrichedContext(request.context, now),
                      None if book is None else lambda: book.membership(request.user_id, ctx.user, env.context))
        # features are computed (and logged) whenever the placement logs
        logging = log and self.impressions is not None and (placement.ranker == "ltr" or placement.log_impressions)
        staged = StageContext(ctx, placement, env, n, parts, RuleTrace() if request.explain else None, self.rankers,
                              logging, self._embedding_table, self.require_catalog)
        return run_stages(self.stages(placement), pool, staged), ctx, staged

    def _backfill(self, ctx: PipelineContext, placement: Placement, have: Candidates, n: int) -> Candidates:
        """Top a short list up to ``n`` (:func:`tastemaker.serving.backfill.backfill`)."""
        return backfill(ctx, placement, have, n, self.require_catalog)

    def recommend(self, request: RecommendationRequest, personalize: bool = True, log: bool = True) -> dict[str, Any]:
        """The response body of ``GET /v1/recommendations``: a list, or for a placement with a
        ``next_best_action:`` section the action it chooses (:mod:`tastemaker.serving.next_best_action`)."""
        nba = self.nba
        if nba is not None:
            placement = self.placements.get(request.placement)
            spec = None if placement is None else placement.next_best_action
            if spec is not None:
                return self._next_best_action(nba, spec, request, personalize, log)
        return self.recommend_list(request, personalize, log)

    def _next_best_action(self, nba: Any, spec: Any, request: RecommendationRequest, personalize: bool,
                          log: bool) -> dict[str, Any]:
        context = EnrichedContext(request.context, self.clock())
        if personalize and self.segments is not None:
            lookup = self.segments.lookup(request.user_id, self.state.users.get(request.user_id), context)
        else:  # nothing about the user is read: the request's context only
            lookup = lambda name: context.get(name[8:]) if name.startswith("context.") else None  # noqa: E731
        return nba.respond(spec, request.placement, request.user_id, lookup,
                           lambda: self.recommend_list(request, personalize, log), recommendation_ids.next,
                           request.explain, log)

    def recommend_list(self, request: RecommendationRequest, personalize: bool = True, log: bool = True) -> dict[str, Any]:
        """The list of ``GET /v1/recommendations``. ``personalize`` False: nothing
        about the user is read (the list of a user never seen); ``log`` False: the served list
        is not written to the impression log (consent, :mod:`tastemaker.privacy.consent`)."""
        router = self.experiments
        assigned = NOT_ASSIGNED
        if router is not None:
            router.refresh()  # a memory read unless an experiment changed somewhere
            if router.assigner:
                assigned = router.assign(request.user_id, request.placement, request.context,
                                         self.state.users.get(request.user_id) if personalize else None)
        arm = None
        if self.bandits is not None and not assigned.holdout:
            self.placements.reload_if_changed()  # decide on the document the pipeline will run
            arm = self.bandits.decide(self.placement(request.placement), request.context)
        if not assigned.exposures:
            top, ctx, staged, placement = self._run(request, personalize, log, arm=arm)
        else:
            top, ctx, staged, placement, assigned = self._run_assigned(request, personalize, log, assigned, arm)
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
            "model_version": f"{ctx.model.name}-{ctx.model.version}",
        }
        if assigned.exposures:
            body["experiments"] = assigned.public()
        if arm is None and placement.bandit is not None and self.bandits is not None and not assigned.holdout:
            arm = self.bandits.decide_item(placement, request.context, self.state.index,
                                           lambda positions: allowed(ctx, placement, positions, self.require_catalog))
        if arm is not None:
            self.bandits.place_item(out, arm)
            body["bandit"] = arm.public()  # and as an experiment: the impression log keeps its propensity
            body["experiments"] = [*body.get("experiments", []),
                                   {"id": f"bandit:{arm.placement}", "variant": arm.arm, "propensity": arm.propensity}]
            if log:
                self.bandits.registry.record(body["recommendation_id"], arm, [e["id"] for e in out])
        if request.explain:  # the blend that made this list: learned by the version, or written
            learned = placement.name in getattr(ctx.model, "blends", {})
            body["blend"] = {name: {"weight": spec.weight, "n": spec.n,
                                    "set_by": "placement" if spec.explicit or not learned else f"model-{ctx.model.version}"}
                             for name, spec in placement.sources.items()}
        if trace is not None and trace.dropped:
            pins = [d for d in trace.dropped if d["effect"].startswith("pin dropped")]
            if pins:
                body["rules_dropped"] = [{"id": ids[d["item"]], "rule": d["rule"], "effect": d["effect"]} for d in pins]
        features = staged is not None and staged.served_features is not None
        if features or (log and "experiments" in body and self.impressions is not None):
            from tastemaker.storage.protocols import ImpressionRecord

            self.impressions.log(ImpressionRecord(
                body["recommendation_id"], request.placement, request.user_id, self.clock(), [out_["id"] for out_ in out],
                staged.served_features if features else None, staged.feature_names if features else (),
                self.state.applied_seq, body.get("experiments", [])))
        return body

    def _run_assigned(self, request: RecommendationRequest, personalize: bool, log: bool, assigned: Assigned,
                      arm: Any = None) -> tuple:
        """:meth:`_run` for a request in experiments, measured for the monitored (canary) ones.
        A variant that fails (a candidate model's bug) is counted and the request is served
        as if it were in no experiment, so a canary's error never reaches the user."""
        router = self.experiments
        started = time.perf_counter()
        try:
            top, ctx, staged, placement = self._run(request, personalize, log, assigned, arm)
        except ValidationFailed:
            raise  # the request's own fault, whatever the variant
        except Exception:
            router.record(assigned, None, True)
            if not any(x.experiment.id in router.monitored for x in assigned.exposures):
                raise
            top, ctx, staged, placement = self._run(request, personalize, log, arm=arm)
            return top, ctx, staged, placement, NOT_ASSIGNED
        router.record(assigned, time.perf_counter() - started, False)
        return top, ctx, staged, placement, assigned

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

