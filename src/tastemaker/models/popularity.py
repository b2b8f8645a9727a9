"""Popularity: the time-decayed counts kept by OnlineState, as a candidate source."""

from __future__ import annotations

import numpy as np

from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState
from tastemaker.features.toplists import TopListCache


class PopularityModel:
    """Most popular items (decayed by time); the long-term model until a learned one serves."""

    name = "popularity"
    version = "1"
    blends: dict = {}  # nothing learned: the placements' own blends (never written to)

    def __init__(self, cache: TopListCache):
        self.cache = cache

    def candidates(self, state: OnlineState, user: UserState | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        # not "popular": that list (serving.sources.popular) is masked to available items
        return self.cache.top("model:popularity", lambda: state.popularity_scores(), n)

    def item_vectors(self) -> None:
        return None
