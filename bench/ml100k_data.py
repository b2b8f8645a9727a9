"""ML-100k for bench/models_ml100k.py: the ratings as arrays, and the three protocols' splits.

(a) per-user stratified random 75/25, (b) one global time cut (the latest ``TEMPORAL_TEST`` of
ratings), (c) leave-last-out; each as a boolean train mask over the ratings.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.datasets import load_ml100k

TEMPORAL_TEST = 0.2  # protocol (b): share of the latest ratings in test (and in validation)


def load() -> dict:
    ds = load_ml100k()
    ev = ds.events
    user, item, n_users = ds.interaction_indices()
    return {"user": user, "item": item, "rating": ev.column("value").to_numpy(),
            "ts": ev.column("timestamp").to_numpy(), "n_users": n_users, "n_items": len(ds.items),
            "items": ds.items}


def stratified_split(user: np.ndarray, n_users: int, frac: float, seed: int) -> np.ndarray:
    """Boolean train mask: per user, a random round(frac * n) of their events."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(user)), user))
    counts = np.bincount(user, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(user), np.int64)
    rank[order] = np.arange(len(user)) - np.repeat(starts, counts)
    return rank < np.round(frac * counts).astype(np.int64)[user]


def temporal_mask(ts: np.ndarray, test_frac: float) -> np.ndarray:
    """Boolean train mask of protocol (b): everything before the global cut of the latest
    ``test_frac`` of events (ties at the cut go to test)."""
    n_test = max(1, int(round(test_frac * len(ts))))
    cut = np.partition(ts, len(ts) - n_test)[len(ts) - n_test]
    return ts < cut


def leave_last_out_mask(user: np.ndarray, ts: np.ndarray, n_users: int, seed: int) -> np.ndarray:
    """Boolean train mask of protocol (c): each user's latest event (ties broken at random by
    ``seed``) is test, for users with at least two events."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(user)), ts, user))
    counts = np.bincount(user, minlength=n_users)
    last = np.zeros(len(user), bool)
    ends = np.cumsum(counts)[counts >= 2] - 1
    last[order[ends]] = True
    return ~last


def train_mask(d: dict, protocol: str, seed: int) -> np.ndarray:
    if protocol == "a":
        return stratified_split(d["user"], d["n_users"], 0.75, seed)
    if protocol == "b":
        return temporal_mask(d["ts"], TEMPORAL_TEST)
    return leave_last_out_mask(d["user"], d["ts"], d["n_users"], seed)


def matrices(d: dict, mask: np.ndarray) -> dict:
    shape = (d["n_users"], d["n_items"])
    u, i = d["user"][mask], d["item"][mask]
    def m(v, dtype):
        return sp.csr_matrix((v.astype(dtype), (u, i)), shape=shape, dtype=dtype)
    return {"binary": m(np.ones(mask.sum()), np.float32), "rating": m(d["rating"][mask], np.float32),
            "weighted": m(rating_weight(d["rating"][mask]), np.float32), "ts": m(d["ts"][mask], np.float64)}


def rating_weight(r: np.ndarray) -> np.ndarray:
    """Interaction weight of a rating event: 0.5 (1 star) .. 1.5 (5 stars).

    Every rating is an interaction (relevance stays binary); the stars only set its weight,
    as the engine's interaction-matrix builder does with ``rating`` events."""
    return 0.5 + (np.asarray(r, np.float64) - 1.0) / 4.0
