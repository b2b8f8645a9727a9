"""The ranking stages of a configured placement: one callable per concern, in a list.

A configured placement (``Placement.staged``) runs, on a pool of its best candidates, the
stages :func:`build_stages` reads off its configuration, always in this order::

    ranker:blend | ranker:ltr          learned ranker (features captured when logging)
    rules                              filters, boosts, buries, pins' items, margin
    fairness:popularity                popularity discount
    diversity:calibration | :mmr | :mmr-sum | :swap
    fairness:min-exposure              minimum exposure per brand/category
    arrange                            caps and pins, cut to n
    impression-log                     the feature rows of the served items

A stage is a callable ``(table, ctx) -> table`` with a ``name`` (:class:`Stage`): ``table`` is
the candidate table (:class:`~tastemaker.candidates.Candidates`), ``ctx`` the
:class:`StageContext`: the request, and what a stage leaves for later ones (the ranking
order, the captured features, the explanation trace). Re-ranking stages (diversity, minimum
exposure) keep the table's rows and set ``ctx.order``, so the rule columns gathered once
for the pool stay aligned with it. A stage list is plain data: an experiment can swap one
stage (another diversity method, a ranker version) for a variant and leave the others be.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, ClassVar, Protocol

import numpy as np

from tastemaker.ranking.calibration import calibrate_codes, target_by_code
from tastemaker.ranking.diversity import embedding_features, mmr, swap
from tastemaker.ranking.fairness import ensure_min_exposure, popularity_discount
from tastemaker.ranking.features import FEATURE_NAMES, candidate_features_from_parts
from tastemaker.rules.engine import RuleSet, RuleTrace, score_order
from tastemaker.rules.env import RuleEnv
from tastemaker.candidates import Candidates
from tastemaker.serving.pins import screen_pins
from tastemaker.serving.placements import DiversitySpec, Placement
from tastemaker.serving.sources import PipelineContext


class StageContext:
    """One request's pass through the stages: what they read, and what they leave behind.

    Set up by the recommender: ``pipeline`` (state, user, request), ``placement``, ``env``
    (the rule columns of the pool, gathered once), ``n``, the sources' ``parts`` (features
    read them), ``trace`` (None without ``explain``), ``rankers`` (learned ranker per
    placement), ``logging`` (whether the served list is logged with its features),
    ``embeddings`` (the serving model's item vectors, or None) and ``require_catalog``.
    """

    __slots__ = ("pipeline", "placement", "env", "n", "parts", "trace", "rankers", "logging", "embeddings",
                 "require_catalog", "rules", "order", "relevance", "moved_by", "features", "feature_items",
                 "feature_names", "arranged_items", "rows", "served_features")

    def __init__(self, pipeline: PipelineContext, placement: Placement, env: RuleEnv, n: int, parts: list,
                 trace: RuleTrace | None = None, rankers: Any = None, logging: bool = False,
                 embeddings: Callable[[], np.ndarray | None] = lambda: None, require_catalog: bool = True):
        self.pipeline, self.placement, self.env, self.n, self.parts = pipeline, placement, env, n, parts
        self.trace, self.rankers, self.logging, self.embeddings = trace, rankers, logging, embeddings
        self.require_catalog = require_catalog
        self.rules: RuleSet = placement.rules  # the rules stage narrows the pins to the allowed ones
        self.order: np.ndarray | None = None  # row order of the table, best first (None: by score)
        self.relevance: np.ndarray | None = None  # the score order, before any re-ranking stage
        self.moved_by: str | None = None  # the stage named in explanations of re-ranked items
        self.features: np.ndarray | None = None  # feature rows of ``feature_items``
        self.feature_items: np.ndarray | None = None
        self.feature_names: tuple[str, ...] = ()
        self.arranged_items: np.ndarray | None = None  # the table ``arrange`` cut, and its rows served
        self.rows: np.ndarray | None = None
        self.served_features: np.ndarray | None = None  # feature rows of the served items, to log

    def ranking(self, table: Candidates) -> np.ndarray:
        """The table's current row order: by score until a re-ranking stage set one."""
        if self.order is None:
            self.order = self.relevance = score_order(table.scores, table.items)
        return self.order

    def reorder(self, table: Candidates, order: np.ndarray, stage: str) -> None:
        """A re-ranking stage's new row order; ``stage`` names it in explanations."""
        self.ranking(table)  # the relevance order the explanations compare with
        self.order = order
        if self.moved_by is None:
            self.moved_by = stage

    def capture_features(self, table: Candidates, names: tuple[str, ...]) -> np.ndarray:
        """The feature rows of the table's candidates (for the ranker and the impression log)."""
        X = candidate_features_from_parts(self.env, table.scores, self.parts, names)
        self.features, self.feature_items, self.feature_names = X, table.items, tuple(names)
        return X


class Stage(Protocol):
    """One step of the ranking pipeline: a candidate table in, a candidate table out."""

    name: str

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates: ...


@dataclass(frozen=True)
class BlendRanker:
    """The sources' blended scores as they are; the features are captured when the placement
    logs impressions (the log trains the learned ranker later)."""

    name: ClassVar[str] = "ranker:blend"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        if ctx.logging and len(table):
            ctx.capture_features(table, FEATURE_NAMES)
        return table


@dataclass(frozen=True)
class LearnedRanker:
    """The placement's learned ranker (LambdaMART over logged features) scores the table;
    the sources' blend stands until one is trained."""

    name: ClassVar[str] = "ranker:ltr"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        ranker = ctx.rankers.get(ctx.placement.name) if ctx.rankers is not None else None
        if (ranker is None and not ctx.logging) or not len(table):
            return table
        X = ctx.capture_features(table, ranker.feature_names if ranker is not None else FEATURE_NAMES)
        if ranker is None:
            return table
        raw = ranker.score(X)
        lo, hi = float(raw.min()), float(raw.max())
        # positive and order-preserving, so boosts and buries keep their meaning
        scores = 0.01 + 0.99 * (raw - lo) / (hi - lo) if hi > lo else np.ones(len(raw))
        ctx.env.set_scores(scores)
        return Candidates(table.items, scores, table.sources, table.because)


@dataclass(frozen=True)
class ApplyRules:
    """The placement's business rules: filters, boosts and buries, pinned items added, margin."""

    name: ClassVar[str] = "rules"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        rules = ctx.rules
        if rules.pins:
            rules = ctx.rules = screen_pins(ctx.pipeline, ctx.placement, rules, table.items, ctx.env.now, ctx.trace,
                                            ctx.require_catalog)
        if rules:
            table, ctx.env = rules.score(table, ctx.env, ctx.trace)
        return table


@dataclass(frozen=True)
class PopularityDiscount:
    """Scores discounted by item popularity (``penalty`` 0..1): room for the long tail."""

    penalty: float
    name: ClassVar[str] = "fairness:popularity"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        if not len(table):
            return table
        scores = popularity_discount(table.scores, ctx.env.column("popularity"), self.penalty)
        return Candidates(table.items, scores, table.sources, table.because)


#: Row order by diversity method: ``(relevance, features, n, lambda) -> rows``.
REORDER: dict[str, Callable[..., np.ndarray]] = {
    "mmr": mmr,
    "mmr-sum": partial(mmr, penalty="sum", order="relevance"),
    "swap": swap,
}


@dataclass(frozen=True)
class Diversify:
    """Re-rank for variety over categories or the model's item embeddings (``by``) with one
    of the :data:`REORDER` methods, weight ``lambda_``."""

    method: str
    lambda_: float
    by: str = "categories"

    @property
    def name(self) -> str:
        return f"diversity:{self.method}"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        if len(table) <= 1:
            return table
        vectors = ctx.embeddings() if self.by == "embeddings" else None
        # without item vectors (the popularity model has none) "by embeddings" uses categories
        features = embedding_features(ctx.env, vectors) if vectors is not None else ctx.env.group_codes("category")
        ctx.reorder(table, REORDER[self.method](table.scores, features, ctx.n, self.lambda_), "diversity")
        return table


@dataclass(frozen=True)
class Calibrate:
    """Re-rank so the list's category mix follows the user's (weight ``weight``); for a user
    with no affinity yet, the placement's ``fallback`` diversity stage, if any."""

    weight: float
    fallback: Diversify | None = None
    name: ClassVar[str] = "diversity:calibration"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        if len(table) <= 1:
            return table
        user = ctx.pipeline.user
        if user is None or not user.affinity:
            return table if self.fallback is None else self.fallback(table, ctx)
        codes, shares = target_by_code(user.affinity, ctx.pipeline.state.catalog.category_ids)
        order = calibrate_codes(table.scores, ctx.env.group_codes("category"), codes, shares, ctx.n, self.weight)
        ctx.reorder(table, order, "calibration")
        return table


@dataclass(frozen=True)
class MinimumExposure:
    """Each listed brand/category group gets at least its share of the first ``n`` rows:
    ``groups`` = ``((kind, ((group, share), ...)), ...)``."""

    groups: tuple[tuple[str, tuple[tuple[str, float], ...]], ...]
    name: ClassVar[str] = "fairness:min-exposure"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        catalog = ctx.pipeline.state.catalog
        for kind, groups in self.groups:
            ids = catalog.brand_ids if kind == "brand" else catalog.category_ids
            shares_by_code = {ids[g]: s for g, s in groups if g in ids}
            if shares_by_code:
                before = ctx.ranking(table)
                ctx.order = ensure_min_exposure(before, ctx.env.group_codes(kind), shares_by_code, ctx.n)
                if ctx.trace is not None and ctx.moved_by is None and not np.array_equal(before, ctx.order):
                    ctx.moved_by = "minimum exposure"
        return table


@dataclass(frozen=True)
class Arrange:
    """Caps and pins on the ranked table, cut to ``n``: the list served. Records, for
    explanations, the items a re-ranking stage moved."""

    name: ClassVar[str] = "arrange"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        order = ctx.ranking(table)
        if ctx.trace is not None and ctx.moved_by is not None:
            _trace_reorder(table.items, ctx.relevance, order, ctx.n, ctx.moved_by, ctx.trace)
        top, rows = ctx.rules.arrange_order(table, ctx.env, order, ctx.n, ctx.trace)
        ctx.arranged_items, ctx.rows = table.items, rows
        return top


@dataclass(frozen=True)
class CaptureImpression:
    """The feature rows of the served items, for the impression log the response writes."""

    name: ClassVar[str] = "impression-log"

    def __call__(self, table: Candidates, ctx: StageContext) -> Candidates:
        if ctx.features is not None and ctx.logging:
            ctx.served_features = _served_rows(ctx.feature_items, ctx.features, ctx.arranged_items, ctx.rows,
                                               table.items)
        return table


def diversity_stage(spec: DiversitySpec | None) -> Stage | None:
    """The re-ranking stage a diversity spec configures (calibration wins over ``lambda``)."""
    if spec is None:
        return None
    diversify = Diversify(spec.method, spec.lambda_, spec.by) if spec.lambda_ > 0 else None
    return Calibrate(spec.calibration, diversify) if spec.calibration > 0 else diversify


def build_stages(placement: Placement) -> list[Stage]:
    """The stages ``placement`` configures, in pipeline order."""
    stages: list[Stage] = [LearnedRanker() if placement.ranker == "ltr" else BlendRanker()]
    if placement.rules:
        stages.append(ApplyRules())
    fairness = placement.fairness
    if fairness is not None and fairness.popularity_penalty > 0:
        stages.append(PopularityDiscount(fairness.popularity_penalty))
    diversity = diversity_stage(placement.diversity)
    if diversity is not None:
        stages.append(diversity)
    if fairness is not None and fairness.min_exposure:
        stages.append(MinimumExposure(tuple((kind, tuple(groups)) for kind, groups in fairness.min_exposure.items())))
    stages.append(Arrange())
    if placement.ranker == "ltr" or placement.log_impressions:
        stages.append(CaptureImpression())
    return stages


_built: dict[int, tuple[weakref.ref, tuple[Stage, ...]]] = {}


def stages_for(placement: Placement) -> tuple[Stage, ...]:
    """:func:`build_stages`, once per placement object (a placement is immutable; one with
    per-request overrides is a new object, whose entry goes when it does)."""
    key = id(placement)
    entry = _built.get(key)
    if entry is not None and entry[0]() is placement:
        return entry[1]
    stages = tuple(build_stages(placement))
    _built[key] = (weakref.ref(placement, lambda _ref, key=key: _built.pop(key, None)), stages)
    return stages


def run_stages(stages: tuple[Stage, ...] | list[Stage], table: Candidates, ctx: StageContext) -> Candidates:
    for stage in stages:
        table = stage(table, ctx)
    return table


# -- bookkeeping for explanations and the impression log --------------------------------------

def _trace_reorder(items: np.ndarray, before: np.ndarray, after: np.ndarray, n: int, stage: str, trace: Any) -> None:
    """Record, for the first ``n`` rows of ``after``, the items a re-ranking stage moved."""
    rank = np.empty(len(before), np.int64)
    rank[before] = np.arange(len(before))
    for k, row in enumerate(after[:n].tolist()):
        if rank[row] != k:
            trace.add(int(items[row]), stage, f"re-ranked: rank {rank[row] + 1} -> {k + 1}")


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
