"""Churn models on a temporal split of an event log: AUC, Brier score and calibration.

The log is cut at ``cutoff``: every user active before it is summarised from their events
before it alone (first and last event, active days, revenue), and labelled churned when they
have no event in ``[cutoff, cutoff + horizon)``. Three scores of churn are compared:

* ``bgnbd``: BG/NBD's probability of no activity in the horizon (:mod:`tastemaker.models.bgnbd`),
  fitted on the summaries at the cutoff (unsupervised: no labels needed);
* ``lightgbm``: a gradient-boosted classifier on point-in-time features (recency, tenure,
  active days, events, revenue), trained on the window before (features as of
  ``cutoff - horizon``, labels from ``[cutoff - horizon, cutoff)``) and applied at the cutoff;
* ``recency``: days since the last event, the baseline any model must beat.

With the synthetic generator's known dropout times (``truth``), the share of labelled
churners who had truly dropped out is reported as well.

>>> from tastemaker.datasets.synthetic import churn_times, generate
>>> ds = generate(600, 200, 20_000, seed=2, days=120, churn=0.4)
>>> start = 1_700_000_000.0
>>> out = evaluate_churn(ds.events, cutoff=start + 90 * 86400, horizon_s=30 * 86400)
>>> out["users"], out["bgnbd"]["auc"] > out["recency"]["auc"] - 0.05 > 0.5
(517, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tastemaker.models.bgnbd import BetaGeo, summaries

DAY_S = 86_400.0
FEATURES = ("recency_days", "tenure_days", "active_days", "events", "revenue")


@dataclass
class Cut:
    """Users active before a cutoff: point-in-time features and the label after it."""

    users: np.ndarray  # user ids (strings)
    first: np.ndarray
    last: np.ndarray
    days: np.ndarray
    events: np.ndarray
    revenue: np.ndarray
    churned: np.ndarray  # bool: no event in [cutoff, cutoff + horizon)
    cutoff: float

    def features(self) -> np.ndarray:
        return np.column_stack([(self.cutoff - self.last) / DAY_S, (self.cutoff - self.first) / DAY_S, self.days,
                                self.events, self.revenue])


def _columns(events: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user code, ts, is purchase, value) of the events that are activity (no impressions), and the ids."""
    events = events.filter(pc.not_equal(events.column("type"), "impression"))
    ts_name = "timestamp" if "timestamp" in events.column_names else "ts"
    users = events.column("user_id").dictionary_encode().combine_chunks()
    ts = events.column(ts_name).to_numpy().astype(np.float64)
    value = (pc.cast(events.column("value"), pa.float64()).fill_null(0.0).to_numpy().astype(np.float64)
             if "value" in events.column_names else np.zeros(len(ts)))
    purchase = pc.equal(events.column("type"), "purchase").to_numpy(zero_copy_only=False)
    return users.indices.to_numpy(), ts, purchase, value, np.asarray(users.dictionary.to_pylist(), dtype=object)


def cut(events: pa.Table, cutoff: float, horizon_s: float) -> Cut:
    """Summaries of every user active before ``cutoff`` and whether they churned after it."""
    code, ts, purchase, value, ids = _columns(events)
    n = len(ids)
    before = ts < cutoff
    after = (ts >= cutoff) & (ts < cutoff + horizon_s)
    first = np.full(n, np.inf)
    last = np.full(n, -np.inf)
    np.minimum.at(first, code[before], ts[before])
    np.maximum.at(last, code[before], ts[before])
    pairs = np.unique(code[before].astype(np.int64) * 1_000_000 + (ts[before] // DAY_S).astype(np.int64) % 1_000_000)
    days = np.bincount(pairs // 1_000_000, minlength=n).astype(np.float64)
    n_events = np.bincount(code[before], minlength=n).astype(np.float64)
    revenue = np.bincount(code[before], weights=np.where(purchase[before], value[before], 0.0), minlength=n)
    active_after = np.bincount(code[after], minlength=n) > 0
    seen = np.isfinite(first)
    return Cut(ids[seen], first[seen], last[seen], days[seen], n_events[seen], revenue[seen], ~active_after[seen], cutoff)


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs observed churn per predicted-probability decile (bins with users)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append({"from": round(float(edges[b]), 4), "to": round(float(edges[b + 1]), 4),
                        "users": int(inside.sum()),
                        "predicted": round(float(p[inside].mean()), 4), "observed": round(float(y[inside].mean()), 4)})
    return out


def _scores(y: np.ndarray, p: np.ndarray, probability: bool) -> dict[str, Any]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    out: dict[str, Any] = {"auc": round(float(roc_auc_score(y, p)), 4)}
    if probability:
        out["brier"] = round(float(brier_score_loss(y, p)), 4)
        out["mean_predicted"] = round(float(p.mean()), 4)
        out["calibration"] = calibration(y, p)
    return out


def _lightgbm(events: pa.Table, test: Cut, horizon_s: float, seed: int) -> np.ndarray | None:
    """P(churn) from a classifier trained one horizon earlier (None: too few users or one class)."""
    import lightgbm

    train = cut(events, test.cutoff - horizon_s, horizon_s)
    if len(train.users) < 50 or train.churned.all() or not train.churned.any():
        return None
    model = lightgbm.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=20,
                                    subsample=0.8, subsample_freq=1, random_state=seed, verbose=-1, n_jobs=1)
    model.fit(train.features(), train.churned)
    return model.predict_proba(test.features())[:, 1]


def evaluate_churn(events: pa.Table, cutoff: float, horizon_s: float, truth: dict[str, float] | None = None,
                   seed: int = 0) -> dict[str, Any]:
    """AUC (and for probabilities Brier score and calibration) of each churn score at ``cutoff``."""
    test = cut(events, cutoff, horizon_s)
    if len(test.users) < 2 or test.churned.all() or not test.churned.any():
        raise ValueError("the split needs users who churned and users who did not: move the cutoff")
    y = test.churned.astype(np.float64)
    x, t_x, T = summaries(test.first, test.last, test.days, cutoff)
    model = BetaGeo(penalizer=0.001).fit(x, t_x, T)
    out: dict[str, Any] = {"users": int(len(y)), "churned": round(float(y.mean()), 4),
                           "cutoff": cutoff, "horizon_days": horizon_s / DAY_S,
                           "bgnbd": {**_scores(y, model.p_none(horizon_s / DAY_S, x, t_x, T), True),
                                     "params": [round(v, 4) for v in model.params]},
                           "recency": _scores(y, (cutoff - test.last) / DAY_S, False)}
    boosted = _lightgbm(events, test, horizon_s, seed)
    if boosted is not None:
        out["lightgbm"] = _scores(y, boosted, True)
    if truth is not None:
        dropped = np.array([truth.get(u, np.inf) < cutoff + horizon_s for u in test.users])
        out["truth"] = {"dropped_out": round(float(dropped.mean()), 4),
                        "churned_that_dropped_out": round(float(dropped[test.churned].mean()), 4),
                        "bgnbd_auc_vs_dropout": round(float(_scores(dropped.astype(float),
                                                                    model.p_none(horizon_s / DAY_S, x, t_x, T),
                                                                    False)["auc"]), 4)}
    return out
