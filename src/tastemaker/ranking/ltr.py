"""Learned ranker: LightGBM LambdaMART over candidate features, trained on logged impressions.

Training data come from what was served, not from what the state says now:

* an :class:`Impression` is logged per response: the placement, the time, the items in
  display order and their feature rows *as computed at serving time*
  (:func:`tastemaker.ranking.features.candidate_features`);
* an :class:`~tastemaker.ranking.outcomes.Outcome` is a later click / add-to-cart / purchase
  event, linked to the impression by ``recommendation_id`` (or, unlinked, to the latest earlier
  impression of the same user that showed the item): :func:`~tastemaker.ranking.outcomes.attribute`,
  the join experiment metrics use as well.

:func:`build_training_set` labels each shown item with its best outcome inside the
attribution window ``[impression.ts, impression.ts + window_s]`` and never reads anything
after ``cutoff`` (the moment the training snapshot was taken): impressions whose window is
still open at the cutoff are left out, outcomes before their impression are ignored, and
features are only the logged ones, so nothing from the future leaks in. :func:`time_split`
validates on the latest impressions. :func:`choose_ranker` trains when a placement has
enough labelled lists and keeps the ranker only if it beats the hybrid blend (the
``blend`` feature column) on nDCG@k of the held-out, later impressions.

Scoring 100 candidates costs about 1 µs per candidate with 50 trees (LightGBM's C
predictor called directly; ``Booster.predict`` adds ~70 µs of Python per call).
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tastemaker.ranking.features import FEATURE_NAMES
from tastemaker.ranking.outcomes import Outcome, attribute

__all__ = ["LABELS", "Impression", "Outcome", "TrainingSet", "build_training_set", "time_split", "ndcg_at_k",
           "LTRRanker", "Choice", "choose_ranker"]

LABELS: dict[str, int] = {"click": 1, "add_to_cart": 2, "purchase": 3}
MIN_GROUPS = 200  # labelled lists a placement needs before a ranker is trained for it
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [10], "learning_rate": 0.1, "num_leaves": 15,
    "min_data_in_leaf": 20, "feature_fraction": 0.9, "verbose": -1, "num_threads": 1, "seed": 0,
    "deterministic": True,
}


@dataclass
class Impression:
    recommendation_id: str
    user_id: str
    placement: str
    ts: float
    items: list[str]
    features: np.ndarray  # (len(items), len(feature_names)), as served
    feature_names: tuple[str, ...] = FEATURE_NAMES
    log_seq: int = 0  # the event-log position it was served at (point-in-time features)


@dataclass
class TrainingSet:
    X: np.ndarray
    y: np.ndarray
    group: np.ndarray  # list sizes, in row order
    ts: np.ndarray  # impression time per list
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def lists(self) -> int:
        return len(self.group)

    def take(self, groups: np.ndarray) -> TrainingSet:
        """The lists selected by a boolean mask over groups."""
        rows = np.repeat(groups, self.group)
        return TrainingSet(self.X[rows], self.y[rows], self.group[groups], self.ts[groups], self.feature_names)


def _aligned(features: np.ndarray, have: Sequence[str], want: Sequence[str]) -> np.ndarray:
    if tuple(have) == tuple(want):
        return np.asarray(features, np.float64)
    col = {n: j for j, n in enumerate(have)}
    out = np.full((len(features), len(want)), np.nan)
    for j, n in enumerate(want):
        if n in col:
            out[:, j] = features[:, col[n]]
    return out


def build_training_set(impressions: Iterable[Impression], outcomes: Iterable[Outcome], cutoff: float,
                       window_s: float = 86400.0, labels: Mapping[str, int] = LABELS, placement: str | None = None,
                       feature_names: Sequence[str] = FEATURE_NAMES, keep_unlabelled: bool = False) -> TrainingSet:
    """Labelled lists from the impression log (see the module docstring for the rules)."""
    imps = [i for i in impressions if (placement is None or i.placement == placement) and i.ts + window_s <= cutoff]
    best: dict[tuple[str, str], int] = {}
    labelled = (o for o in outcomes if labels.get(o.type, 0) > 0 and o.ts <= cutoff)
    for imp, o in attribute(imps, labelled, window_s):  # the join experiments use too
        label = labels[o.type]
        key = (imp.recommendation_id, o.item_id)
        best[key] = max(best.get(key, 0), label)
    Xs, ys, groups, times = [], [], [], []
    for imp in sorted(imps, key=lambda i: (i.ts, i.recommendation_id)):
        y = np.array([best.get((imp.recommendation_id, item), 0) for item in imp.items], np.int32)
        if not keep_unlabelled and not y.any():
            continue
        Xs.append(_aligned(imp.features, imp.feature_names, feature_names))
        ys.append(y)
        groups.append(len(y))
        times.append(imp.ts)
    if not Xs:
        return TrainingSet(np.zeros((0, len(feature_names))), np.zeros(0, np.int32), np.zeros(0, np.int64),
                           np.zeros(0), tuple(feature_names))
    return TrainingSet(np.vstack(Xs), np.concatenate(ys), np.asarray(groups, np.int64), np.asarray(times),
                       tuple(feature_names))


def time_split(data: TrainingSet, valid_fraction: float = 0.2) -> tuple[TrainingSet, TrainingSet]:
    """Earlier lists for training, the latest ``valid_fraction`` for validation."""
    order_ts = np.sort(data.ts)
    cut = order_ts[int(len(order_ts) * (1 - valid_fraction))] if len(order_ts) else 0.0
    valid = data.ts >= cut
    return data.take(~valid), data.take(valid)


def ndcg_at_k(scores: np.ndarray, y: np.ndarray, group: np.ndarray, k: int = 10) -> float:
    """Mean nDCG@k (gain ``2**label - 1``) over lists with at least one positive label."""
    out, start = [], 0
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    for size in group.tolist():
        s, lab = scores[start:start + size], y[start:start + size]
        start += size
        if not lab.any():
            continue
        order = np.lexsort((np.arange(size), -s))[:k]
        gains = 2.0 ** lab - 1
        dcg = (gains[order] * disc[: len(order)]).sum()
        ideal = (np.sort(gains)[::-1][:k] * disc[: min(k, size)]).sum()
        out.append(dcg / ideal)
    return float(np.mean(out)) if out else float("nan")


class LTRRanker:
    """A trained LambdaMART model: ``score(X)`` for one request's candidate rows."""

    def __init__(self, booster: Any, feature_names: Sequence[str], meta: dict[str, Any] | None = None):
        self.booster = booster
        self.feature_names = tuple(feature_names)
        self.meta = meta or {}
        self._out = np.zeros(1024)
        self._out_len = ctypes.c_int64(0)
        self._param = ctypes.c_char_p(b"num_threads=1")
        self._predict: Any = None  # bound predictor, made on first use

    @staticmethod
    def train(train: TrainingSet, valid: TrainingSet | None = None, params: Mapping[str, Any] | None = None,
              rounds: int = 50) -> LTRRanker:
        import lightgbm as lgb

        p = {**DEFAULT_PARAMS, **(params or {})}
        dtrain = lgb.Dataset(train.X, train.y, group=train.group, feature_name=list(train.feature_names),
                             free_raw_data=False)
        sets, names = [dtrain], ["train"]
        if valid is not None and valid.lists():
            sets.append(lgb.Dataset(valid.X, valid.y, group=valid.group, reference=dtrain))
            names.append("valid")
        booster = lgb.train(p, dtrain, num_boost_round=rounds, valid_sets=sets, valid_names=names)
        return LTRRanker(booster, train.feature_names, {"rounds": rounds, "lists": int(train.lists())})

    def score(self, X: np.ndarray) -> np.ndarray:
        """One score per row (higher is better). ``X`` in either memory order: a
        Fortran-ordered matrix (``candidate_features``) is read in place, column-major."""
        n = len(X)
        if n == 0:
            return np.zeros(0)
        if X.dtype == np.float64 and X.flags.f_contiguous and not X.flags.c_contiguous:
            data, row_major = X.T, 0
        else:
            data, row_major = np.ascontiguousarray(X, dtype=np.float64), 1
        try:
            call = self._predict
            if call is None:
                call = self._predict = self._predictor()
            if len(self._out) < n:
                self._out = np.zeros(2 * n)
            rc = call(data.ctypes.data, row_major, n, X.shape[1], self._out.ctypes.data)
            if rc == 0 and self._out_len.value == n:
                return self._out[:n].copy()
        except (ImportError, AttributeError):  # pragma: no cover - another LightGBM layout
            pass
        return np.asarray(self.booster.predict(np.ascontiguousarray(X, dtype=np.float64), num_threads=1),
                          np.float64)  # pragma: no cover

    def _predictor(self) -> Any:
        """``LGBM_BoosterPredictForMat`` bound to this booster (normal prediction, all
        iterations, one thread), argument types declared once: a call passes plain ints."""
        from lightgbm.basic import _LIB

        fn = _LIB.LGBM_BoosterPredictForMat
        handle, param, out_len = self.booster._handle, self._param, ctypes.byref(self._out_len)
        c_void, c_int, c_int32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int32
        proto = ctypes.CFUNCTYPE(c_int, c_void, c_void, c_int, c_int32, c_int32, c_int, c_int, c_int, c_int,
                                 ctypes.c_char_p, c_void, c_void)
        bound = proto(ctypes.cast(fn, c_void).value)
        dtype_f64 = 1  # C_API_DTYPE_FLOAT64
        out_len_ptr = ctypes.cast(out_len, c_void).value

        def call(data: int, row_major: int, nrow: int, ncol: int, out: int) -> int:
            return bound(handle, data, dtype_f64, nrow, ncol, row_major, 0, 0, -1, param, out_len_ptr, out)
        return call

    def importance(self) -> dict[str, float]:
        gains = self.booster.feature_importance("gain")
        return {n: float(g) for n, g in zip(self.feature_names, gains)}

    def to_bytes(self) -> bytes:
        """The ranker as JSON (feature names, metadata and LightGBM's text model)."""
        return json.dumps({"feature_names": list(self.feature_names), "meta": self.meta,
                           "model": self.booster.model_to_string()}).encode()

    @staticmethod
    def from_bytes(data: bytes) -> LTRRanker:
        import lightgbm as lgb

        doc = json.loads(data)
        return LTRRanker(lgb.Booster(model_str=doc["model"]), doc["feature_names"], doc.get("meta"))


@dataclass
class Choice:
    """The outcome of :func:`choose_ranker` for one placement."""

    ranker: LTRRanker | None
    report: dict[str, Any] = field(default_factory=dict)


def choose_ranker(data: TrainingSet, min_groups: int = MIN_GROUPS, k: int = 10, valid_fraction: float = 0.2,
                  params: Mapping[str, Any] | None = None, rounds: int = 50) -> Choice:
    """Train on the earlier lists, compare with the blend on the later ones; keep the better.

    ``report`` holds ``lists``, ``ndcg_ltr``, ``ndcg_blend`` and ``winner`` (``"ltr"``,
    ``"blend"``, or ``"blend"`` with ``reason`` when there is not enough data).
    """
    if data.lists() < min_groups:
        return Choice(None, {"lists": data.lists(), "winner": "blend", "reason": f"fewer than {min_groups} labelled lists"})
    train, valid = time_split(data, valid_fraction)
    ranker = LTRRanker.train(train, None, params, rounds)
    blend_col = data.feature_names.index("blend")
    ltr = ndcg_at_k(ranker.score(valid.X), valid.y, valid.group, k)
    blend = ndcg_at_k(valid.X[:, blend_col], valid.y, valid.group, k)
    winner = "ltr" if ltr > blend else "blend"
    report = {"lists": data.lists(), "train_lists": train.lists(), "valid_lists": valid.lists(),
              f"ndcg@{k}_ltr": ltr, f"ndcg@{k}_blend": blend, "winner": winner}
    return Choice(ranker if winner == "ltr" else None, report)
