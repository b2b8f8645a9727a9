"""Relevance sources of bench/mmr_ml100k.py: the model whose ranking is the baseline (λ = 0)
and whose candidates and scores the re-rankers see, plus its member scores and session
features for the hit-probability calibration.

- ``hybrid``  the engine's default pipeline: :class:`tastemaker.models.hybrid.Hybrid` over
              ``families.default_members()`` (blend weights learned on its own
              validation folds of the training part), fitted as ``bench/models_ml100k.py``
              fits it: the rating-weighted training matrix (0.5 .. 1.5 per star; relevance stays
              binary) with the training events' timestamps for the session members.
- ``ease``    plain EASE (λ_reg = 500) on the binary training matrix (the bench's former
              relevance).

Every default member is also fitted on its own (those the blend drops included), so the
calibration features are the same columns on every split whatever weights the blend
learned there.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from tastemaker.datasets import load_ml100k
from tastemaker.models import families as model_families
from tastemaker.models.ease import EASE
from tastemaker.models.hybrid import Hybrid, fit_member, normalize_scores

SOURCES = ("hybrid", "ease")
RECENT = 10  # the session feature: genre profile of the user's latest RECENT training events


class Events(NamedTuple):
    """All ratings as matrices aligned with the bench's interaction matrix."""

    weighted: sp.csr_matrix  # 0.5 (1 star) .. 1.5 (5 stars)
    ts: sp.csr_matrix  # event timestamps (seconds)
    items: list


def load_events(shape: tuple[int, int]) -> Events:
    ds = load_ml100k()
    user, item, _ = ds.interaction_indices()
    rating = ds.events.column("value").to_numpy().astype(np.float64)
    ts = ds.events.column("timestamp").to_numpy().astype(np.float64)
    w = sp.csr_matrix((0.5 + (rating - 1.0) / 4.0, (user, item)), shape=shape)
    t = sp.csr_matrix((ts, (user, item)), shape=shape)
    return Events(w, t, ds.items)


def restrict(x: sp.csr_matrix, to: sp.csr_matrix) -> sp.csr_matrix:
    """``x`` on the nonzero pattern of ``to``."""
    return sp.csr_matrix(x.multiply(to != 0), dtype=x.dtype)


def defaults_key() -> str:
    """A short hash of the model families' defaults (their constructor signatures, where the
    defaults are declared), so a cache never serves scores of models whose defaults have changed."""
    import hashlib
    import inspect

    parts = [repr(inspect.signature(Hybrid.__init__)), repr(inspect.signature(EASE.__init__))]
    for name, cls in sorted(model_families.FAMILIES.items()):
        parts.append(f"{name}{inspect.signature(cls.__init__)}")
    parts.append(repr(model_families.DEFAULT_MEMBERS))
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:10]


class Relevance(NamedTuple):
    scores: np.ndarray  # (users, items) the source's scores
    members: dict[str, np.ndarray]  # (users, items) each member's max-normalised scores
    recent: np.ndarray  # (users, genres) genre profile of each user's latest RECENT events
    weights: dict[str, float]


def fit_relevance(source: str, train: sp.csr_matrix, users: np.ndarray, ev: Events, genres: np.ndarray,
                  seed: int = 0, cache: Path | None = None, tag: str = "") -> Relevance:
    """The scores of ``source`` fitted on the binary matrix ``train`` for rows ``users``."""
    path = None if cache is None else cache / f"{source}-{tag}-{len(users)}-{train.nnz}-{defaults_key()}.npz"
    if path is not None and path.exists():
        z = np.load(path, allow_pickle=True)
        return Relevance(z["scores"], dict(z["members"].item()), z["recent"], dict(z["weights"].item()))
    ts = restrict(ev.ts, train)
    order = [np.argsort(-ts[u].toarray().ravel())[: min(RECENT, ts[u].nnz)] for u in users]
    recent = np.stack([genres[o].sum(0) for o in order])
    if source == "ease":
        scores = EASE(lambda_=500.0).fit(train).score(train[users]).astype(np.float64)
        rel = Relevance(scores, {}, recent, {})
    elif source == "hybrid":
        X = restrict(ev.weighted, train).astype(np.float32)
        model = Hybrid(members=model_families.default_members(), seed=seed).fit(X, ev.items, timestamps=ts)
        R = X[users]
        scores = model.score(R).astype(np.float64)
        members = {}
        for name, m in model_families.default_members().items():
            fitted = model.fitted.get(name) or fit_member(copy.deepcopy(m), X, ev.items, ts)
            members[name] = normalize_scores(fitted.score(R), "max")
        rel = Relevance(scores, members, recent, dict(model.weights))
    else:
        raise ValueError(f"unknown relevance source {source!r}; known: {SOURCES}")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, scores=rel.scores, members=np.array(rel.members, dtype=object), recent=rel.recent,
                 weights=np.array(rel.weights, dtype=object))
    return rel
