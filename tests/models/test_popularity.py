"""models.popularity: decayed popularity behind the candidate-model interface."""

from __future__ import annotations

import numpy as np

from tastemaker.features.state import OnlineState
from tastemaker.features.toplists import TopListCache
from tastemaker.models.popularity import PopularityModel

T0 = 1_700_000_000.0


def build() -> OnlineState:
    state = OnlineState()
    seq = 0
    for item, count in (("a", 1), ("b", 3), ("c", 2)):
        for k in range(count):
            seq += 1
            state.apply(seq, "view", f"u{seq}", None, [item], None, T0)
    state.apply(seq + 1, "impression", "x", None, ["d"], None, T0)
    return state


def test_candidates_are_most_popular_first():
    state = build()
    model = PopularityModel(TopListCache(ttl=0))
    ids, scores = model.candidates(state, None, 10)
    assert [state.index.ids[i] for i in ids] == ["b", "c", "a"]  # "d" has no interest
    np.testing.assert_allclose(scores, [3.0, 2.0, 1.0])
    ids, _ = model.candidates(state, state.users["u1"], 2)
    assert len(ids) == 2


def test_identity():
    model = PopularityModel(TopListCache())
    assert (model.name, model.version) == ("popularity", "1")


def test_uses_the_shared_cache():
    state = build()
    cache = TopListCache(ttl=3600)
    model = PopularityModel(cache)
    first = model.candidates(state, None, 3)[0].tolist()
    for k in range(10):
        state.apply(100 + k, "view", "z", None, ["a"], None, T0)
    assert model.candidates(state, None, 3)[0].tolist() == first  # cached
    cache.clear()
    assert state.index.ids[model.candidates(state, None, 3)[0][0]] == "a"
