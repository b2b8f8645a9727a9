"""A trained model family as the pipeline's long-term candidate source, with fold-in.

The user's row is rebuilt from live state (items seen, weighted by the strongest event on
each, as the training matrix weighs them), so a click a moment ago already moves the long-term model's candidates: no
retraining, no stale user vectors.

Two paths fill the same per-user cache, keyed by the user's event count:

- :meth:`LearnedModel.warm` scores every known user in batches before a version starts
  serving (one matrix product per chunk of users instead of one fold-in per request);
- :meth:`LearnedModel.candidates` folds in, at request time, any user whose event count
  moved since (a new event, a new user), once per event.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from tastemaker.features.item_index import ItemIndex
from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState
from tastemaker.models.artifact import ModelArtifact
from tastemaker.models.topk import top_k

CACHE_USERS = 100_000
WARM_CANDIDATES = 200  # kept per user: placements ask the user model for up to 100
WARM_CHUNK = 128  # users scored per matrix product


class LearnedModel:
    """Adapts a registry artifact to the :class:`~tastemaker.models.candidate_source.CandidateSource` contract."""

    def __init__(self, artifact: ModelArtifact, version: int, index: ItemIndex):
        self.artifact = artifact
        self.name = artifact.family
        self.version = str(version)
        self.columns = {item_id: col for col, item_id in enumerate(artifact.item_ids)}
        # model column -> position in OnlineState's item index (ids unseen online get one now)
        self.positions = np.fromiter((index.add(i) for i in artifact.item_ids), np.int64, len(artifact.item_ids))
        self.n_columns = len(artifact.item_ids)
        # the placements' blends learned with this version (an artifact from before them has none)
        self.blends: dict[str, dict] = getattr(artifact, "blends", None) or {}
        # Per-user results, valid until the user's next event (event_count moves on): a page
        # reload costs a lookup, and freshness is untouched.
        self._cache: dict[int, tuple[UserState, int, int, np.ndarray, np.ndarray]] = {}

    def forget(self, user: UserState) -> None:
        """Drop the cached candidates of ``user`` (an erased user's state leaves memory)."""
        self._cache.pop(id(user), None)

    def forget_all(self) -> None:
        """Drop every cached user (online state was rebuilt: the cached states are gone)."""
        self._cache.clear()

    def item_vectors(self) -> tuple[np.ndarray, np.ndarray] | None:
        vectors = self.artifact.model.item_vectors()
        if vectors is None or vectors.ndim != 2 or len(vectors) != len(self.positions):
            return None
        return self.positions, vectors

    def user_row(self, state: OnlineState, user: UserState) -> sp.csr_matrix:
        """The user's interaction row in the model's columns, from live state: each item of
        positive interest at its weight (:attr:`UserState.interest`, the training matrix's
        weighing), disliked items left out."""
        items, weights = user.interest_items()
        disliked = user.disliked_items()
        keep = weights > 0
        if len(disliked):
            keep &= ~np.isin(items, disliked)
        ids, columns = state.index.ids, self.columns
        cols = np.fromiter((columns.get(ids[pos], -1) for pos in items[keep].tolist()), np.int32, int(keep.sum()))
        vals = weights[keep]
        known = cols >= 0
        cols, vals = cols[known], vals[known] * np.float32(self.artifact.input_scale)
        order = np.argsort(cols)
        return sp.csr_matrix((vals[order], cols[order], np.array([0, len(cols)])), shape=(1, self.n_columns))

    def candidates(self, state: OnlineState, user: UserState | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        if user is None or not user.n_seen:
            return np.zeros(0, np.int64), np.zeros(0)
        cached = self._cache.get(id(user))
        if cached is not None and cached[0] is user and cached[1] == user.event_count and cached[2] >= n:
            return cached[3][:n], cached[4][:n]
        row = self.user_row(state, user)
        if not row.nnz:
            return np.zeros(0, np.int64), np.zeros(0)
        cols, scores = top_per_row(self.artifact.model.score(row), row, n)
        if len(self._cache) >= CACHE_USERS:
            self._cache.clear()
        entry = self._cache[id(user)] = self._entry(user, user.event_count, n, cols[0], scores[0])
        return entry[3], entry[4]

    def _entry(self, user: UserState, count: int, n: int, cols: np.ndarray, scores: np.ndarray) -> tuple:
        """A cache entry: online-state positions and scores of the model's useful proposals."""
        keep = (cols >= 0) & np.isfinite(scores) & (scores > 0)
        return user, count, n, self.positions[cols[keep]], scores[keep].astype(np.float64)

    def warm(self, state: OnlineState, should_stop: Callable[[], bool] = lambda: False,
             limit: int = CACHE_USERS) -> int:
        """Precompute the candidates of the ``limit`` most recently active users; returns how many.

        Safe to run in a thread while the state changes: a user's event count is read before
        the row, so an event arriving meanwhile makes the entry stale (recomputed on the next
        request), never wrong (a row reads one immutable version of the user's items).
        """
        users = [u for u in list(state.users.values()) if u.n_seen]
        if len(users) > limit:
            users = sorted(users, key=lambda u: u.last_ts, reverse=True)[:limit]
        done = 0
        with threadpool_limits(1):  # one core: the other one keeps serving
            for start in range(0, len(users), WARM_CHUNK):
                if should_stop():
                    break
                chunk, counts, rows = [], [], []
                for user in users[start:start + WARM_CHUNK]:
                    count = user.event_count
                    row = self.user_row(state, user)
                    if row.nnz:
                        chunk.append(user)
                        counts.append(count)
                        rows.append(row)
                if not rows:
                    continue
                batch = sp.vstack(rows, format="csr")
                cols, scores = top_per_row(self.artifact.model.score(batch), batch, WARM_CANDIDATES)
                for user, count, c, v in zip(chunk, counts, cols, scores):
                    self._cache[id(user)] = self._entry(user, count, WARM_CANDIDATES, c, v)
                done += len(chunk)
        return done


def top_per_row(scores: np.ndarray, seen: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` best columns, best first, with the row's own (seen) columns removed;
    column ``-1`` (score ``-inf``) pads a row with fewer than ``k`` candidates.

    >>> cols, vals = top_per_row(np.array([[0.1, 0.9, 0.5]]), sp.csr_matrix([[0, 1, 0]]), 2)
    >>> cols.tolist(), vals.tolist()
    ([[2, 0]], [[0.5, 0.10000000149011612]])
    """
    scores = np.array(scores, dtype=np.float32)  # a copy: seen items are masked in place
    scores[np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr)), seen.indices] = -np.inf
    cols = top_k(scores, k)
    vals = np.take_along_axis(scores, np.maximum(cols, 0), axis=1)
    vals[cols < 0] = -np.inf
    return cols, vals
