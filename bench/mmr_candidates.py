"""Candidates and hit-probability features of ``bench/mmr_ml100k.py``: the ML-100k matrix and
genre rows, each split's relevance-source candidates (:class:`Split`), the per-user view the
re-rankers get (:class:`User`), and the calibrators that turn candidate features into hit
probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from mmr_relevance import Events, fit_relevance
from mmr_verdict import K

from tastemaker.datasets import load_ml100k
from tastemaker.evaluation.metrics import category_features, item_popularity
from tastemaker.ranking.diversity import unit_rows


def load() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    ds = load_ml100k()
    user, item, _ = ds.interaction_indices()
    m = sp.csr_matrix((np.ones(len(item), np.float32), (user, item)), shape=(user.max() + 1, len(ds.items)))
    m.sum_duplicates()
    m.data[:] = 1.0
    genres = category_features(ds.items, [it["id"] for it in ds.items])
    return m, sp.csr_matrix(genres)


class User(NamedTuple):
    """One user's candidates as the re-rankers see them."""

    scores: np.ndarray  # relevance-source scores, best first
    prob: np.ndarray  # calibrated hit probabilities (rank, score, history length)
    gprob: np.ndarray  # genre-aware calibrated hit probabilities
    ideal: float  # expected ideal DCG@K


def expected_ideal_dcg(n_hist: np.ndarray, holdout: float = 0.25) -> np.ndarray:
    """The ideal DCG@K of a user whose held-out count is estimated from the history length
    (a random ``holdout`` split leaves ``n_hist * holdout / (1 - holdout)`` items out)."""
    n_rel = np.clip(np.rint(n_hist * holdout / (1 - holdout)), 1, K).astype(np.int64)
    return np.cumsum(1.0 / np.log2(np.arange(2, K + 2)))[n_rel - 1]


class Split:
    """Candidates of one train/held-out split: the relevance source fitted on ``train``, each
    user's best ``n_cand`` unseen items (sorted by score), the held-out relevance."""

    def __init__(self, train: sp.csr_matrix, heldout: sp.csr_matrix, n_cand: int, source: str,
                 ev: Events, genres: np.ndarray, cache: Path | None = None, tag: str = ""):
        self.users = np.flatnonzero(np.diff(heldout.indptr) > 0)
        hist = train[self.users]
        self.rel = fit_relevance(source, train, self.users, ev, genres, cache=cache, tag=tag)
        scores = self.rel.scores.copy()
        scores[np.repeat(np.arange(len(self.users)), np.diff(hist.indptr)), hist.indices] = -np.inf
        cand = np.argpartition(-scores, n_cand - 1, axis=1)[:, :n_cand]
        s = np.take_along_axis(scores, cand, 1)
        order = np.argsort(-s, axis=1, kind="stable")
        self.cand, self.scores = np.take_along_axis(cand, order, 1), np.take_along_axis(s, order, 1)
        self.relevant = heldout[self.users]
        self.history = hist
        self.n_hist = np.diff(hist.indptr)
        self.pop = item_popularity(train)

    def hits(self) -> np.ndarray:
        n, c = self.cand.shape
        return np.asarray(self.relevant[np.repeat(np.arange(n), c), self.cand.ravel()]).reshape(n, c)

    def calib_features(self) -> np.ndarray:
        n, c = self.cand.shape
        log_rank = np.log(np.arange(1, c + 1, dtype=np.float64))[None, :].repeat(n, 0)
        rel_top = self.scores / np.maximum(self.scores[:, :1], 1e-12)
        log_hist = np.log1p(self.n_hist.astype(np.float64))[:, None].repeat(c, 1)
        return np.stack([log_rank, rel_top, log_hist, log_hist * log_rank], -1).reshape(n * c, -1)

    def genre_calib_features(self, genres: np.ndarray, members: str = "full") -> np.ndarray:
        """:meth:`calib_features` plus the user's genre mix against the candidate's genres,
        log popularity, genre count and score; per-genre indicator and share x indicator;
        the genre mix of the user's latest events (session); each member's normalised score
        and its log rank among the candidates (hybrid source)."""
        n, c = self.cand.shape
        base = self.calib_features()
        log_rank = base[:, :1]
        hist = np.asarray(self.history @ genres, np.float64)
        share = hist / np.maximum(hist.sum(1, keepdims=True), 1.0)
        g = genres[self.cand]  # (n, c, genres)
        n_genres = g.sum(-1)
        aff = (g * share[:, None, :]).sum(-1) / np.maximum(n_genres, 1.0)
        aff_max = (g * share[:, None, :]).max(-1)
        ug = unit_rows(g.reshape(n * c, -1)).reshape(g.shape)
        cos = (ug * unit_rows(hist)[:, None, :]).sum(-1)
        recent = self.rel.recent
        rshare = recent / np.maximum(recent.sum(1, keepdims=True), 1.0)
        raff = (g * rshare[:, None, :]).sum(-1) / np.maximum(n_genres, 1.0)
        rcos = (ug * unit_rows(recent)[:, None, :]).sum(-1)
        pop = np.log(self.pop[self.cand] + 1e-4)
        mix = np.stack([aff, aff_max, cos], -1).reshape(n * c, -1)
        session = np.stack([raff, rcos], -1).reshape(n * c, -1)
        g2 = g.reshape(n * c, -1)
        cols = [base, mix, session, pop.ravel(), n_genres.ravel(), self.scores.ravel(), g2,
                g2 * np.repeat(share, c, 0), mix * log_rank, session * log_rank]
        for name in sorted(self.rel.members) if members != "none" else ():
            ms = np.take_along_axis(self.rel.members[name], self.cand, 1)
            cols.append(ms.ravel())
            if members == "full":
                mrank = np.argsort(np.argsort(-ms, axis=1, kind="stable"), axis=1) + 1.0
                cols += [np.log(mrank).ravel(), ms.ravel() * log_rank[:, 0]]
        return np.column_stack(cols)


def calibrator(kind: str):
    """An unfitted hit-probability model: ``logit`` (standardised, C = 0.1) or ``hgb``
    (gradient-boosted trees, shallow and slow-learning; early stopping on 10% of its
    training rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logit":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=400, max_leaf_nodes=15,
                                              min_samples_leaf=200, l2_regularization=1.0,
                                              early_stopping=True, random_state=0)
    raise ValueError(f"unknown calibrator {kind!r}")
