"""``tastemaker train-ranker``: a LambdaMART ranker per placement from its logged impressions.

For each placement with impressions (or the one asked for):

1. the impressions as served (items in display order, feature rows as computed then) from
   the impression log, and the outcomes: ``click`` / ``add_to_cart`` / ``purchase`` events
   of the event log after the first impression's log position, linked by their
   ``recommendation_id`` (the event field, or ``context.recommendation_id``), else by user
   and item within the attribution window;
2. :func:`~tastemaker.ranking.ltr.build_training_set` at ``cutoff = now``: only impressions
   whose attribution window has closed, only outcomes inside it, only logged features (no
   leakage from the present state);
3. :func:`~tastemaker.ranking.ltr.choose_ranker`: train on the earlier lists, compare with
   the blend on the later ones; the ranker is written to ``<models>/rankers/<placement>.json``
   only when it wins, and servers swap it in within a second
   (:class:`~tastemaker.serving.rankers.RankerSet`). A report is written next to it.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Callable, Sequence

from tastemaker.ranking.ltr import (
    LABELS,
    MIN_GROUPS,
    Impression,
    build_training_set,
    choose_ranker,
)
from tastemaker.features.registry import FeatureRegistry
from tastemaker.ranking.outcomes import Outcome, read_outcomes
from tastemaker.serving.feature_config import read_features
from tastemaker.serving.rankers import RANKERS_PREFIX, RankerSet
from tastemaker.storage.factory import Stores
from tastemaker.training.streaming_columns import with_streaming_features

DEFAULT_WINDOW_S = 86_400.0


def load_impressions(stores: Stores, placement: str | None = None,
                     since_ts: float = -math.inf) -> tuple[list[Impression], int]:
    """Logged impressions that carry features, as :class:`~tastemaker.ranking.ltr.Impression`,
    and the earliest event-log position among them (outcomes come after it)."""
    if stores.impressions is None:
        return [], 0
    out, first_seq = [], None
    for r in stores.impressions.read(placement, since_ts=since_ts):
        if r.features is None or not r.feature_names:
            continue
        out.append(Impression(r.recommendation_id, r.user_id, r.placement, r.ts, list(r.items), r.features,
                              tuple(r.feature_names), r.log_seq))
        first_seq = r.log_seq if first_seq is None else min(first_seq, r.log_seq)
    return out, first_seq or 0


def load_outcomes(stores: Stores, after_seq: int = 0, types: frozenset[str] = frozenset(LABELS),
                  page: int = 10_000) -> list[Outcome]:
    """Outcome events (one per item) logged after ``after_seq``
    (:func:`~tastemaker.ranking.outcomes.read_outcomes`)."""
    return read_outcomes(stores.events, after_seq, types, page)


def train_rankers(stores: Stores, placement: str | None = None,
                  window_s: float = DEFAULT_WINDOW_S, now: float | None = None, min_lists: int = MIN_GROUPS,
                  rounds: int = 50, progress: Callable[[str], None] | None = None,
                  streaming_features: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Train and (when it beats the blend) install a ranker per placement; returns the
    report of each placement (``winner``, nDCG of both, list counts, the ranker's ``artifact``
    key when written); the report is stored beside it (``models/rankers/<placement>.report.json``).
    ``streaming_features``: user or item features added as ``stream:NAME`` columns, point in
    time (training.streaming_columns; the server fills the same columns when serving)."""
    say = progress or (lambda message: None)
    cutoff = time.time() if now is None else now
    impressions, first_seq = load_impressions(stores, placement)
    if not impressions:
        return {placement: {"winner": "blend", "lists": 0, "reason": "no impressions logged"}} if placement else {}
    if streaming_features:
        definitions = FeatureRegistry(read_features(stores.artifacts)).definitions
        impressions = with_streaming_features(stores, impressions, streaming_features, definitions)
    outcomes = load_outcomes(stores, after_seq=first_seq)
    say(f"{len(impressions)} impressions, {len(outcomes)} outcomes after log position {first_seq}")
    rankers = RankerSet(stores.artifacts)
    reports: dict[str, dict[str, Any]] = {}
    for name in sorted({i.placement for i in impressions}):
        mine = [i for i in impressions if i.placement == name]
        names = mine[-1].feature_names
        data = build_training_set(mine, outcomes, cutoff=cutoff, window_s=window_s, placement=name,
                                  feature_names=names)
        choice = choose_ranker(data, min_groups=min_lists, rounds=rounds)
        report = {"placement": name, "impressions": len(mine), "cutoff": cutoff, "window_s": window_s,
                  **choice.report}
        if choice.ranker is not None:
            choice.ranker.meta.update({"placement": name, "trained_at": time.time(), "report": choice.report})
            report["artifact"] = rankers.save(name, choice.ranker)
        stores.artifacts.put(f"{RANKERS_PREFIX}{name}.report.json", json.dumps(report, indent=2, default=float).encode())
        say(f"{name}: {report.get('winner')} ({', '.join(f'{k}={v:.4f}' for k, v in report.items() if k.startswith('ndcg'))})")
        reports[name] = report
    return reports
