"""features.state: OnlineState folds events (in log order) into everything real time needs."""

from __future__ import annotations

import pickle

import msgspec
import numpy as np
import pytest

from tastemaker.features.state import (
    COVISIT_RECENT,
    COVISIT_WINDOW_S,
    MAX_SEGMENTS,
    SNAPSHOT_FORMAT,
    OnlineState,
    StateConfig,
    context_segments,
)
from tastemaker.schema.records import Item
from tastemaker.storage.local.artifacts import LocalArtifactStore

T0 = 1_700_000_000.0
_decode_list = msgspec.json.Decoder(list[str]).decode
_decode_obj = msgspec.json.Decoder(dict).decode


class Feed:
    """Applies events with increasing seqs."""

    def __init__(self, state: OnlineState):
        self.state = state
        self.seq = 0

    def __call__(self, type_: str, user: str, items, ts: float = T0, *, session: str | None = None,
                 value: float | None = None, context=None, query: str | None = None) -> bool:
        self.seq += 1
        items = [items] if isinstance(items, str) else list(items)
        return self.state.apply(self.seq, type_, user, session, items, value, ts, context, query)


@pytest.fixture
def state() -> OnlineState:
    return OnlineState()


@pytest.fixture
def feed(state) -> Feed:
    return Feed(state)


def pos(state: OnlineState, item_id: str) -> int:
    return state.index.get(item_id)


def test_context_segments():
    assert context_segments(None) == [] and context_segments({}) == []
    assert context_segments({"device": "mobile", "channel": "web", "geo": {"country": "DE"}, "locale": "", "referrer": "x"}) == [
        "channel=web", "device=mobile", "geo=DE",
    ]
    assert context_segments({"geo": "FR", "device": 3, "locale": "x" * 100}) == [f"locale={'x' * 64}", "geo=FR"]


def test_item_sets(state, feed):
    feed("purchase", "u", "p")
    feed("rating", "u", "r", value=5.0)
    feed("rating", "u", "low", value=1.0)
    feed("rating", "u", "zero", value=0.0)
    feed("dislike", "u", "d")
    feed("view", "u", "v")
    user = state.users["u"]
    assert user.purchased == {pos(state, "p")}
    assert user.rated == {pos(state, i) for i in ("r", "low", "zero")}
    assert user.disliked == {pos(state, "d")}
    # a rating above the neutral 0 is interest (consumption), however low; "zero" and "d" are not
    assert user.seen == {pos(state, i) for i in ("p", "r", "low", "v")}
    assert user.excluded() == {pos(state, i) for i in ("p", "r", "low", "zero", "d")}
    assert user.type_counts == {"purchase": 1, "rating": 3, "dislike": 1, "view": 1}
    assert user.event_count == 6


def test_interest_weights_match_the_training_matrix(state, feed):
    """What the model folds in at serving time weighs each item as build_interactions does."""
    feed("purchase", "u", "p")
    feed("view", "u", "p")
    feed("rating", "u", "r", value=5.0)
    feed("rating", "u", "r", value=1.0)  # a re-rating replaces the opinion
    feed("view", "u", "v")
    feed("click", "u", "c")
    user = state.users["u"]
    assert user.interest == {pos(state, "p"): 6.0, pos(state, "r"): pytest.approx(3.0 * (1 / 5) ** 0.5),
                             pos(state, "c"): 2.0}  # a view weighs 1: not stored


def test_impressions_do_not_count_as_interest(state, feed):
    feed("view", "u", "a")
    feed("impression", "u", ["b", "c"], T0 + 1)
    user = state.users["u"]
    assert pos(state, "b") is not None  # indexed, so it can be filtered and explained
    assert user.seen == {pos(state, "a")}
    assert [r.item for r in user.recent] == [pos(state, "a")]
    scores = state.popularity_scores()
    assert scores[pos(state, "b")] == 0.0 and scores[pos(state, "a")] > 0
    assert len(state.covisitation.row(pos(state, "a"))[0]) == 0


def test_popularity_known_answer(state, feed):
    feed("view", "u1", "a")
    feed("purchase", "u2", "a")
    feed("click", "u3", "b")
    feed("rating", "u3", "c", value=5.0)
    np.testing.assert_allclose(state.popularity_scores(), [1.0 + 6.0, 2.0, 3.0])
    assert state.clock == T0


def test_popularity_decays_with_the_event_clock(state, feed):
    feed("view", "u1", "a", T0)
    feed("view", "u1", "b", T0 + 7 * 86_400)  # one popularity half-life later
    np.testing.assert_allclose(state.popularity_scores(), [0.5, 1.0])
    feed("view", "u2", "c", T0 + 3600)  # a late event does not move the clock back
    assert state.clock == T0 + 7 * 86_400


def test_replayed_seq_is_skipped(state):
    assert state.apply(1, "view", "u", None, ["a"], None, T0) is True
    version = state.version
    assert state.apply(1, "view", "u", None, ["a"], None, T0) is False
    assert state.apply(0, "purchase", "u", None, ["a"], None, T0) is False
    assert state.version == version and state.applied_seq == 1
    assert state.users["u"].event_count == 1 and state.users["u"].purchased == set()
    assert state.popularity_scores()[0] == 1.0
    assert state.apply(5, "view", "u", None, ["a"], None, T0) is True  # gaps are the caller's business
    assert state.applied_seq == 5


def test_covisitation_pairs_recent_items_of_the_same_user(state, feed):
    feed("view", "u1", "a", T0)
    feed("view", "u1", "b", T0 + 10)
    feed("view", "u1", "a", T0 + 20)  # repeat: pairs with b once more, never with itself
    feed("view", "u2", "c", T0)  # another user: no pair with u1's items
    a, b, c = (pos(state, i) for i in "abc")
    ids, vals = state.covisitation.row(a)
    assert dict(zip(ids.tolist(), vals.tolist())) == {b: 2.0}
    assert len(state.covisitation.row(c)[0]) == 0


def test_covisitation_respects_the_window_and_the_recent_limit(state, feed):
    feed("view", "u", "old", T0)
    feed("view", "u", "new", T0 + COVISIT_WINDOW_S + 1)
    assert len(state.covisitation.row(pos(state, "new"))[0]) == 0
    for k in range(COVISIT_RECENT + 3):
        feed("view", "v", f"i{k}", T0 + k)
    last = pos(state, f"i{COVISIT_RECENT + 2}")
    partners = set(state.covisitation.row(last)[0].tolist())
    assert partners == {pos(state, f"i{k}") for k in range(2, COVISIT_RECENT + 2)}


def test_multi_item_events_pair_their_items(state, feed):
    feed("purchase", "u", ["a", "b", "c"])
    a, b, c = (pos(state, i) for i in "abc")
    assert set(state.covisitation.row(a)[0].tolist()) == {b, c}
    assert state.users["u"].purchased == {a, b, c}


def test_segments_and_their_cap(state, feed):
    feed("view", "u", "a", context={"device": "mobile", "geo": {"country": "DE"}})
    feed("view", "u", "b", context={"device": "desktop"})
    feed("impression", "u", "c", context={"device": "tv"})  # no interest: no segment
    assert set(state.segments) == {"device=mobile", "geo=DE", "device=desktop"}
    np.testing.assert_allclose(state.popularity_scores("device=mobile")[:2], [1.0, 0.0])
    assert state.popularity_scores("device=nothing").tolist() == [0.0, 0.0, 0.0]
    for k in range(MAX_SEGMENTS + 10):
        feed("view", "w", "a", context={"locale": f"l{k}"})
    assert len(state.segments) == MAX_SEGMENTS


def test_category_affinity_follows_the_catalog(state, feed):
    state.catalog.upsert(Item(id="a", categories=["shoes", "sale"]))
    feed("view", "u", "a")
    feed("purchase", "u", "a")
    feed("view", "u", "unknown")
    assert state.users["u"].affinity == {"shoes": 7.0, "sale": 7.0}


def test_sessions_through_apply(state, feed):
    feed("view", "u", "a", T0, session="s1")
    feed("view", "u", "b", T0 + 60)
    assert state.users["u"].session_items == [pos(state, "a"), pos(state, "b")]
    feed("view", "u", "c", T0 + 60 + 1801)
    user = state.users["u"]
    assert user.session_id_for("u") == f"u@{int(T0 + 1861)}" and user.session_items == [pos(state, "c")]
    feed("view", "u", "d", T0 + 1900, session="s2")
    assert state.users["u"].session_id_for("u") == "s2" and state.users["u"].session_items == [pos(state, "d")]


def test_queries_are_remembered(state, feed):
    for k in range(25):
        feed("search", "u", [], query=f"q{k}")
    assert state.users["u"].queries == [f"q{k}" for k in range(5, 25)]


def test_apply_row_equals_apply():
    live, replay = OnlineState(), OnlineState()
    feed = Feed(live)
    feed("purchase", "u", ["a", "b", "c"], session="s", value=3.0, context={"device": "tv"})
    feed("search", "u", [], T0 + 1, query="hats")
    rows = [
        (1, "purchase", "u", "s", "a", '["b","c"]', 3.0, T0, '{"device":"tv"}', None),
        (2, "search", "u", None, None, None, None, T0 + 1, None, "hats"),
    ]
    assert [replay.apply_row(row, _decode_list, _decode_obj) for row in rows] == [True, True]
    assert replay.users["u"].queries == ["hats"]
    assert replay.users == live.users
    np.testing.assert_array_equal(replay.popularity_scores("device=tv"), live.popularity_scores("device=tv"))
    assert replay.index.ids == live.index.ids
    legacy = OnlineState()  # rows without the query column still apply
    assert legacy.apply_row((1, "view", "u", None, "a", None, None, T0, None), _decode_list, _decode_obj) is True
    assert legacy.users["u"].event_count == 1


def test_trending_scores_cover_every_item(state, feed):
    for k in range(5):
        feed("view", f"u{k}", "hot", T0 + k)
    feed("view", "x", "cold", T0)
    trending = state.trending()
    assert len(trending) == len(state.index) == 2
    assert trending[pos(state, "hot")] > trending[pos(state, "cold")] > 0


def _build(state: OnlineState) -> None:
    state.catalog.upsert(Item(id="a", categories=["x"], stock=2))
    state.catalog.upsert(Item(id="gone", stock=0))
    f = Feed(state)
    for k in range(30):
        f("view", f"u{k % 4}", f"i{k % 7}", T0 + 60 * k, context={"device": "mobile" if k % 2 else "desktop"})
        f("purchase" if k % 5 == 0 else "click", f"u{k % 4}", ["a", f"i{(k + 1) % 7}"], T0 + 60 * k + 5)


def test_snapshot_round_trip(tmp_path):
    state = OnlineState(StateConfig(session_timeout_s=600.0))
    _build(state)
    artifacts = LocalArtifactStore(tmp_path)
    state.save(artifacts, "nested/state.snapshot")
    loaded = OnlineState.load(artifacts, "nested/state.snapshot")
    assert loaded is not state
    assert loaded.applied_seq == state.applied_seq == 60
    assert loaded.config == state.config and loaded.clock == state.clock
    assert loaded.index.ids == state.index.ids
    assert loaded.users == state.users
    np.testing.assert_array_equal(loaded.popularity_scores(), state.popularity_scores())
    np.testing.assert_array_equal(loaded.popularity_scores("device=mobile"), state.popularity_scores("device=mobile"))
    np.testing.assert_array_equal(loaded.trending(), state.trending())
    np.testing.assert_array_equal(loaded.catalog.available, state.catalog.available)
    assert loaded.catalog.category_members == state.catalog.category_members
    for seed in range(len(state.index)):
        a = state.covisitation.neighbors(np.array([seed]), np.ones(1), 10)
        b = loaded.covisitation.neighbors(np.array([seed]), np.ones(1), 10)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    # and both keep evolving identically
    for s in (state, loaded):
        s.apply(61, "view", "u1", None, ["i3", "new"], None, T0 + 10_000, {"device": "mobile"})
    assert loaded.users == state.users
    np.testing.assert_array_equal(loaded.popularity_scores(), state.popularity_scores())
    assert artifacts.list() == ["nested/state.snapshot"]  # no temp files left behind


def test_load_missing_or_foreign_snapshot(tmp_path):
    artifacts = LocalArtifactStore(tmp_path)
    assert OnlineState.load(artifacts, "nothing") is None
    artifacts.put("old.snapshot", pickle.dumps((SNAPSHOT_FORMAT + 1, OnlineState())))
    assert OnlineState.load(artifacts, "old.snapshot") is None
    artifacts.put("torn.snapshot", b"\x80\x05not a pickle")
    assert OnlineState.load(artifacts, "torn.snapshot") is None
