"""A trained model family as the pipeline's long-term candidate source, with fold-in.

The user's row is rebuilt from live state at request time (items seen, weighted by the
strongest event on each), so a click a moment ago already moves the long-term model's
candidates: no retraining, no stale user vectors.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.features.item_index import ItemIndex
from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState
from tastemaker.features.weights import interest_weight
from tastemaker.training.registry import ModelArtifact

CACHE_USERS = 100_000


class LearnedModel:
    """Adapts a registry artifact to the :class:`~tastemaker.models.base.CandidateModel` contract."""

    def __init__(self, artifact: ModelArtifact, version: int, index: ItemIndex):
        self.artifact = artifact
        self.name = artifact.family
        self.version = str(version)
        self.columns = {item_id: col for col, item_id in enumerate(artifact.item_ids)}
        # model column -> position in OnlineState's item index (ids unseen online get one now)
        self.positions = np.fromiter((index.add(i) for i in artifact.item_ids), np.int64, len(artifact.item_ids))
        self.n_columns = len(artifact.item_ids)
        # Per-user results, valid until the user's next event (event_count moves on): a page
        # reload costs a lookup, and freshness is untouched.
        self._cache: dict[int, tuple[UserState, int, int, np.ndarray, np.ndarray]] = {}

    def user_row(self, state: OnlineState, user: UserState) -> sp.csr_matrix:
        """The user's interaction row in the model's columns, from live state."""
        weights: dict[int, float] = {}
        ids = state.index.ids
        for pos in user.seen | user.purchased | user.rated:
            col = self.columns.get(ids[pos])
            if col is not None:
                weights[col] = 1.0
        for r in user.recent:
            col = self.columns.get(ids[r.item])
            if col is not None:
                weights[col] = max(weights.get(col, 0.0), interest_weight(r.type, None) or 1.0)
        for pos in user.disliked:
            col = self.columns.get(ids[pos])
            if col is not None:
                weights.pop(col, None)
        cols = np.fromiter(weights.keys(), np.int32, len(weights))
        vals = np.fromiter(weights.values(), np.float32, len(weights))
        order = np.argsort(cols)
        return sp.csr_matrix((vals[order], cols[order], np.array([0, len(cols)])), shape=(1, self.n_columns))

    def candidates(self, state: OnlineState, user: UserState | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        if user is None or not (user.seen or user.purchased or user.rated):
            return np.zeros(0, np.int64), np.zeros(0)
        cached = self._cache.get(id(user))
        if cached is not None and cached[0] is user and cached[1] == user.event_count and cached[2] >= n:
            return cached[3][:n], cached[4][:n]
        row = self.user_row(state, user)
        if not row.nnz:
            return np.zeros(0, np.int64), np.zeros(0)
        cols, scores = self.artifact.model.recommend(row, n)
        keep = np.isfinite(scores) & (scores > 0)
        items, values = self.positions[cols[keep]], scores[keep].astype(np.float64)
        if len(self._cache) >= CACHE_USERS:
            self._cache.clear()
        self._cache[id(user)] = (user, user.event_count, n, items, values)
        return items, values
