"""Hybrid: a weighted blend of member families, the weights learned on a validation split.

Fit (``fit(interactions, items=None, timestamps=None)``):

1. **Validation splits carved from the training matrix** (by :mod:`tastemaker.holdout`, as
   the evaluation protocols split; the NDCG of step 3 is :mod:`.blend_validation`'s):
   ``holdout_by="random"`` (default): every user with at least two interactions keeps
   ``floor((1 - holdout) * n)`` (at least one) of their ``n`` stored interactions and holds
   out the rest (default share 40%, at least one), drawn ``folds`` times (default 2,
   seeds ``seed``, ``seed + 1``; the validation users of every fold are pooled, which halves
   the noise of weights learned on one small holdout). ``holdout_by="time"`` holds out the
   latest ``holdout`` share of all interactions (one global cut, for temporal evaluation),
   ``"last"`` each user's latest interaction (leave-last-out); both need ``timestamps`` and
   are one fold. Validation users are those with something held out and something kept;
   when more are eligible than the plan's validation users per fold, a sample is drawn and
   (random holdout) only the sampled users' cells are held out: the others' rows stay in
   the validation fit, which is then nearly the whole matrix.
   Members are fitted on the kept part. Members whose regularisation grows with the data
   (``data_scaled_params``, e.g. EASE's lambda) get it scaled by the kept share so they are
   tuned alike on the smaller matrix.
2. Each member scores the validation users' kept rows; scores are normalised per row
   (``normalization``: ``"max"`` divides by the row's largest absolute score, ``"rank"``
   maps scores to ``1 - rank / n_items``, ``"z"`` standardises).
3. **Weights are learned** by coordinate ascent on a grid, maximising NDCG@``k`` of the
   held-out items with the kept items removed: start from the best single member at
   weight 1, then repeatedly try every grid weight for every other member, keeping any
   improvement, until a round changes nothing (at most ``rounds``). Nothing is hand-set.
4. Members with a non-zero weight are refitted on the full matrix (unless the plan says no
   refit: one fold holding out at most 5% of the cells, whose fits are then kept).

Serving: ``score(rows) = sum_m w_m * normalise(member_m.score(rows))`` (batch, n_items)
float32; every member folds rows in, so the hybrid is real time too.

Cost (:mod:`.hybrid_plan`, :mod:`.cost_model`): before anything is fitted, the hybrid
predicts each member's fit time and memory from the data's shape and plans within a budget
(``time_budget`` reference ALS fits, at least ``min_budget_s`` seconds; ``memory_budget_mb``):
members over their size limit or the budget take a cheaper stand-in (GF-CF's factored form,
ALS with fewer factors or pseudo-users) or are dropped (EASE above a few thousand items);
then, while the plan is over the time budget, one fold instead of ``folds``, no refit when
the validation users are a small sample (see step 1 and :data:`.hybrid_plan.REUSE_HELD_SHARE`),
cheaper stand-ins, fewer members. The plan is reported (``fit_progress``) and kept in
:attr:`Hybrid.plan`. Should no member be left, ``ItemKNN(**knn_fallback)`` is the model.
Members that need item metadata (``needs_items``) are skipped when ``items`` is not given;
members that use event times (``uses_timestamps``) get ``timestamps``.

Params (defaults in ``__init__``):
- ``members`` (dict name -> unfitted ModelFamily, required; ``families.create("hybrid")``
  gives the default pipeline's, ``families.default_members()``).
- ``normalization`` ("max" | "rank" | "z").
- ``holdout`` (float, or None: ``DEFAULT_HOLDOUT[holdout_by]``, 0.4 for ``"random"``, 0.25
  for ``"time"``), ``seed`` (int).
- ``k`` (int, or None: ``DEFAULT_K[holdout_by]``, 50 for ``"random"``, 20 for ``"time"``,
  10 for ``"last"``): the cut-off of the weight-learning objective. Served lists
  are judged at 10, but a deeper cut-off counts more hits per validation row, a smoother
  objective whose weights generalise better when a row holds out several items. Protocol
  (a) of ML-100k (per-user random holdout), nested validation: the weights were learned on
  a fold carved from a training part and judged on NDCG@10 of that part's held-out items,
  18 folds over three seeds, with the default members (session families with side
  information, before GF-CF joined them): k 50 with a 40% holdout scored 0.2865 / 0.2844 (two runs of 6 and 12
  folds), k 30 with 25% 0.2861 / 0.2842, k 50 with 25% 0.2854 / 0.2838, k 20 with 25% (the
  earlier default) 0.2843 / 0.2834; 50 / 40% beat 20 / 25% in 13 of the 18 folds. (With the
  earlier members, 20 had beaten 10, 15, 25 and 30.) Protocol
  (b) (global time cut, ``"time"``), nested validation carved from the training part by the
  same rule at two depths: +0.005..+0.009 for 20. Leave-last-out (``"last"``) holds out one
  item per row: protocol (c), nested validation at two depths, three
  seeds, with the session_als member at the reg 40 / alpha 4 that validates best there,
  weights learned at 10 scored +0.0009 higher (ahead in 5 of 6 checks; small, but the
  only evidence; with a reg 60 / alpha 6 member 20 was ahead by 0.0025), so 10.
- ``folds`` (int), ``holdout_by`` ("random" | "time" | "last").
- ``candidates`` (int or None): weight learning ranks each validation row within
  the union of every member's top ``candidates`` unseen items (None: all items).
- ``grid`` (tuple of weights), ``rounds`` (int).
- ``max_validation_users`` (int): validation users (all folds together)
  sampled above this, and fewer on large catalogues: the validation scores (members * users *
  n_items * 4 bytes) stay within ``VALIDATION_SCORE_BYTES`` (1 GiB; 500 users at 100k items).
- ``knn_fallback`` (dict or None): params of the item-kNN used when no member fits (None:
  ItemKNN's defaults).
- ``time_budget`` (float or None: no time budget), ``min_budget_s``, ``memory_budget_mb``:
  the plan's budget (:class:`.cost_model.Budget`); ``refit`` (None: the plan decides; True,
  False).
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from tastemaker.holdout import (
    cell_rows,
    cell_times,
    latest_holdout,
    random_holdout,
    split_by_mask,
    time_cut_holdout,
)
from tastemaker.models.blend_validation import CandidatePool
from tastemaker.models.cost_model import Budget, Cost, Shape
from tastemaker.models.family import ModelFamily, as_fit_rows, to_width
from tastemaker.models.fit_progress import report
from tastemaker.models.hybrid_plan import Plan, make_plan
from tastemaker.models.itemknn import ItemKNN

VALIDATION_SCORE_BYTES = 1 << 30  # bound on the weight-learning score matrices

#: The weight-learning cut-off ``k`` by ``holdout_by`` when ``k`` is None (see the module docstring).
DEFAULT_K = {"random": 50, "time": 20, "last": 10}

#: The validation holdout share by ``holdout_by`` when ``holdout`` is None ("last" holds out
#: one interaction per user and ignores it).
DEFAULT_HOLDOUT = {"random": 0.4, "time": 0.25, "last": 0.25}

DEFAULT_GRID = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def normalize_scores(S: np.ndarray, how: str) -> np.ndarray:
    """Per-row normalisation used by the blend (float32, same shape)."""
    S = np.asarray(S, dtype=np.float32)
    if how == "max":
        m = np.abs(S).max(axis=1, keepdims=True) if S.shape[1] else np.ones((S.shape[0], 1), np.float32)
        return S / np.where(m > 0, m, 1.0)
    if how == "z":
        sd = S.std(axis=1, keepdims=True)
        return (S - S.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)
    if how == "rank":
        n = S.shape[1]
        ranks = np.empty_like(S)
        order = np.argsort(-S, axis=1, kind="stable")
        np.put_along_axis(ranks, order, np.arange(n, dtype=np.float32)[None, :].repeat(S.shape[0], 0), 1)
        return 1.0 - ranks / max(n, 1)
    raise ValueError(f"unknown normalization {how!r}")


def scaled_clone(member: ModelFamily, factor: float) -> ModelFamily:
    """A fresh, unfitted copy of ``member`` whose data-scaled params are multiplied by ``factor``."""
    return member.clone(**{p: member.params[p] * factor for p in member.data_scaled_params})


def fit_member(member: ModelFamily, X: sp.csr_matrix, items: Any, timestamps: sp.csr_matrix | None) -> ModelFamily:
    """Fit one member, passing items / timestamps to the families that take them."""
    if member.uses_timestamps:
        return member.fit(X, items, timestamps=timestamps)
    return member.fit(X, items)


class Hybrid(ModelFamily):
    """Validation-weighted blend of member families (the default pipeline's model)."""

    name = "hybrid"
    uses_timestamps: ClassVar[bool] = True

    def __init__(self, members: dict[str, ModelFamily], normalization: str = "max",
                 holdout: float | None = None, seed: int = 0, k: int | None = None,
                 grid: tuple[float, ...] = DEFAULT_GRID, rounds: int = 4,
                 max_validation_users: int = 5_000, knn_fallback: dict | None = None,
                 folds: int = 2, holdout_by: str = "random", candidates: int | None = 100,
                 time_budget: float | None = 2.0, min_budget_s: float = 8.0,
                 memory_budget_mb: float = 3072.0, refit: bool | None = None):
        if int(folds) < 1:
            raise ValueError("folds must be >= 1")
        if holdout_by not in ("random", "time", "last"):
            raise ValueError(f"holdout_by must be 'random', 'time' or 'last', not {holdout_by!r}")
        self.members = dict(members)
        self.normalization = normalization
        self.holdout = float(DEFAULT_HOLDOUT[holdout_by] if holdout is None else holdout)
        self.seed = int(seed)
        self.k = int(DEFAULT_K[holdout_by] if k is None else k)
        self.grid = tuple(float(g) for g in grid)
        self.rounds = int(rounds)
        self.max_validation_users = int(max_validation_users)
        self.knn_fallback = dict(knn_fallback or {})
        self.folds = int(folds)
        self.holdout_by = holdout_by
        self.candidates = None if candidates is None else int(candidates)
        self.time_budget = None if time_budget is None else float(time_budget)
        self.min_budget_s = float(min_budget_s)
        self.memory_budget_mb = float(memory_budget_mb)
        self.refit = None if refit is None else bool(refit)
        #: what the last fit planned: its summary line, the notes, predicted and budget seconds
        self.plan: dict[str, Any] = {}
        self.weights: dict[str, float] = {}
        self.fitted: dict[str, ModelFamily] = {}
        self.validation: dict[str, float] = {}

    # -- the plan -------------------------------------------------------------------------
    def budget(self) -> Budget:
        """The plan's budget from the params (no time limit when ``time_budget`` is None)."""
        memory = self.memory_budget_mb * 2.0 ** 20
        if self.time_budget is None:
            return Budget(als_fits=float("inf"), min_seconds=float("inf"), memory_bytes=memory)
        return Budget(als_fits=self.time_budget, min_seconds=self.min_budget_s, memory_bytes=memory)

    def make_plan(self, shape: Shape, items_given: bool = True) -> Plan:
        """The plan of a fit on ``shape`` (:func:`.hybrid_plan.make_plan`) over the members
        that can be fitted (those that need item metadata only when it is given)."""
        members = {n: m for n, m in self.members.items() if items_given or not m.needs_items}
        if not members:
            raise ValueError("the hybrid has no usable member")
        plan = make_plan(members, shape, self.budget(), folds=self.folds if self.holdout_by == "random" else 1,
                         max_validation_users=self.max_validation_users, holdout=self.holdout,
                         refit=self.refit, score_bytes=VALIDATION_SCORE_BYTES)
        if not plan.members:
            plan.notes.append("no member fits: item-kNN instead")
            plan.members = {"itemknn": ItemKNN(**self.knn_fallback)}
        return plan

    def cost(self, shape: Shape) -> Cost:
        """The plan's predicted time and peak memory on ``shape``."""
        plan = self.make_plan(shape, shape.has_items)
        return Cost(plan.seconds, plan.peak_bytes,
                    sum(m.cost(shape).model_bytes for m in plan.members.values()))

    # -- weight learning ----------------------------------------------------------------

    def learn_weights(self, val_scores: dict[str, np.ndarray], kept: sp.csr_matrix,
                      held: sp.csr_matrix) -> tuple[dict[str, float], float]:
        """Coordinate ascent over ``grid`` maximising NDCG@k; returns (weights, best NDCG).

        With ``candidates`` set, each row is ranked within a candidate pool: the union of
        every member's ``candidates`` best unseen items (held-out items outside the pool count
        as misses; the ideal DCG still counts every held-out item). A blend's top k lies in
        that pool unless an item outside every member's top ``candidates`` overtakes all of
        them, so the search is (in practice) the exact one, several times faster."""
        names = list(val_scores)
        pool = CandidatePool(val_scores, kept, held, self.k, self.candidates)
        single = {n: pool.ndcg(pool.G[n] + pool.mask) for n in names}
        self.validation = {f"member:{n}": v for n, v in single.items()}
        w = {n: 0.0 for n in names}
        anchor = max(names, key=lambda n: single[n])
        w[anchor] = 1.0
        best = single[anchor]
        blend = pool.G[anchor] + pool.mask
        for _ in range(self.rounds):
            changed = False
            for n in names:
                if n == anchor:
                    continue
                for g in self.grid:
                    if g == w[n]:
                        continue
                    cand = blend + np.float32(g - w[n]) * pool.G[n]
                    v = pool.ndcg(cand)
                    if v > best + 1e-6:
                        best, blend, w[n], changed = v, cand, g, True
            if not changed:
                break
        return w, best

    def fit(self, interactions: sp.csr_matrix, items: Any = None,
            timestamps: sp.csr_matrix | None = None) -> "Hybrid":
        X = sp.csr_matrix(interactions, dtype=np.float32)
        X.sum_duplicates()  # canonical: the holdout masks index its cells in order
        X.eliminate_zeros()
        self.n_items = X.shape[1]
        plan = self.make_plan(Shape.of(X, items, timestamps), items is not None)
        for line in (*plan.notes, plan.summary()):
            report(line)
        self.plan = {"summary": plan.summary(), "notes": list(plan.notes), "predicted_s": round(plan.seconds, 2),
                     "budget_s": round(plan.budget_seconds, 2)}
        members = plan.members
        val_scores: dict[str, list[np.ndarray]] = {name: [] for name in members}
        seen_parts: list[sp.csr_matrix] = []
        held_parts: list[sp.csr_matrix] = []
        kept_fits: dict[str, ModelFamily] = {}  # the validation fits, kept when the plan skips the refit
        if len(members) > 1 and X.nnz:
            for fold in range(plan.folds):
                if self.holdout_by == "random" or timestamps is None:
                    held_mask = random_holdout(X, self.holdout, self.seed + fold)
                else:  # a time cut: one fold is all there is
                    if fold:
                        break
                    times = cell_times(X, timestamps)
                    held_mask = latest_holdout(X, times, self.seed) if self.holdout_by == "last" \
                        else time_cut_holdout(times, self.holdout)
                kept, held = split_by_mask(X, held_mask)
                # validation users: something held out and something kept (a time cut can
                # hold out all of a late user; an empty row says nothing about the blend)
                users = np.flatnonzero((np.diff(held.indptr) > 0) & (np.diff(kept.indptr) > 0))
                if not len(users):
                    continue
                if len(users) > plan.validation_users:
                    rng = np.random.default_rng(self.seed + fold)
                    users = np.sort(rng.choice(users, plan.validation_users, replace=False))
                    if self.holdout_by == "random":  # hold out only the sampled users' cells
                        kept, held = split_by_mask(X, held_mask & np.isin(cell_rows(X), users))
                factor = kept.nnz / max(X.nnz, 1)
                ts_kept = None if timestamps is None else sp.csr_matrix(timestamps).multiply(kept != 0).tocsr()
                for name, m in members.items():
                    report(f"{name}: validation fit {fold + 1}/{plan.folds}")
                    fitted = fit_member(scaled_clone(m, factor), kept, items, ts_kept)
                    val_scores[name].append(normalize_scores(fitted.score(kept[users]), self.normalization))
                    if not plan.refit:
                        kept_fits[name] = fitted
                seen_parts.append(kept[users])
                held_parts.append(held[users])
        if seen_parts:
            report("learning the blend weights")
            stacked = {name: np.vstack(parts) for name, parts in val_scores.items()}
            val_scores.clear()
            self.weights, best = self.learn_weights(stacked, sp.vstack(seen_parts).tocsr(),
                                                    sp.vstack(held_parts).tocsr())
            self.validation["blend"] = best
        else:
            self.weights = {n: 1.0 for n in members}
        self.fitted = {}
        for name, m in members.items():
            if self.weights.get(name, 0.0) == 0.0:
                continue
            if name in kept_fits:  # the plan skips the refit: the validation fit is the model
                self.fitted[name] = kept_fits[name]
                continue
            report(f"{name}: fit (weight {self.weights[name]:g})")
            self.fitted[name] = fit_member(copy.deepcopy(m), X, items, timestamps)
        return self

    def score(self, rows: sp.csr_matrix) -> np.ndarray:
        R = as_fit_rows(rows, self.n_items)
        out = np.zeros((R.shape[0], self.n_items), np.float32)
        for name, m in self.fitted.items():
            S = m.score(R)
            if self.normalization == "max":  # one temporary instead of three (a batch at 100k items is 400 MB)
                peak = np.maximum(S.max(axis=1, initial=0.0), -S.min(axis=1, initial=0.0)) if S.shape[1] \
                    else np.ones(S.shape[0], np.float32)
                scale = np.float32(self.weights[name]) / np.where(peak > 0, peak, 1.0).astype(np.float32)
                out += S * scale[:, None]
            else:
                out += np.float32(self.weights[name]) * normalize_scores(S, self.normalization)
        return to_width(out, rows.shape[1])
