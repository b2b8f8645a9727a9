"""features.user_state: sessions, the capped recent list, excluded sets."""

from __future__ import annotations

import bisect
import doctest
import importlib
import pickle

import numpy as np
import pytest

from tastemaker.features.user_state import RECENT_LIMIT, RecentEvent, UserState

TIMEOUT = 1800.0


def step(user: UserState, ts: float, session_id: str | None = None) -> bool:
    """What OnlineState.apply does per event, for the session part."""
    started = user.touch_session(session_id, ts, TIMEOUT, "auto")
    user.event_count += 1
    user.last_ts = max(user.last_ts, ts)
    return started


def test_first_event_starts_a_session_with_an_automatic_id():
    user = UserState()
    assert step(user, 100.0) is True
    assert (user.session_id_for("auto"), user.session_start) == ("auto@100", 100.0)


def test_thirty_minutes_of_inactivity_start_a_new_session():
    user = UserState()
    step(user, 0.0)
    assert step(user, 1000.0) is False
    assert step(user, 1000.0 + TIMEOUT) is False  # exactly the timeout: still the same session
    assert user.session_id_for("auto") == "auto@0"
    assert step(user, 1000.0 + 2 * TIMEOUT + 1) is True
    assert (user.session_id_for("auto"), user.session_start) == (f"auto@{int(1000 + 2 * TIMEOUT + 1)}", 1000.0 + 2 * TIMEOUT + 1)


def test_a_new_session_id_starts_a_new_session():
    user = UserState()
    assert step(user, 0.0, "s1") is True and user.session_id_for("auto") == "s1"
    assert step(user, 10.0, "s1") is False
    assert step(user, 20.0) is False  # no id sent: continue the current session
    assert step(user, 30.0, "s2") is True
    assert (user.session_id_for("auto"), user.session_start) == ("s2", 30.0)


def test_same_session_id_after_the_timeout_still_starts_over():
    user = UserState()
    step(user, 0.0, "s1")
    user.session_items = [1, 2]
    assert step(user, TIMEOUT + 1, "s1") is True
    assert user.session_items == [] and user.session_start == TIMEOUT + 1


def test_new_session_clears_session_items():
    user = UserState()
    step(user, 0.0)
    user.remember(5, 0.0, "view")
    user.remember(6, 1.0, "view")
    user.remember(5, 2.0, "click")
    assert user.session_items == [5, 6]
    step(user, 10_000.0)
    assert user.session_items == []


def test_recent_is_capped_and_keeps_the_newest():
    user = UserState()
    for i in range(RECENT_LIMIT + 25):
        user.remember(i, float(i), "view")
    assert len(user.recent) == RECENT_LIMIT == 50
    assert [r.item for r in user.recent] == list(range(25, RECENT_LIMIT + 25))
    assert user.recent[-1] == RecentEvent(RECENT_LIMIT + 24, float(RECENT_LIMIT + 24), "view")


def test_out_of_order_events_are_kept_in_time_order():
    user = UserState()
    for item, ts in ((1, 10.0), (2, 30.0), (3, 20.0), (4, 5.0)):
        user.remember(item, ts, "view")
    assert [r.item for r in user.recent] == [4, 1, 3, 2]
    assert user.recent_items(10) == [2, 3, 1, 4]


def test_recent_items_are_distinct_newest_first_and_limited():
    user = UserState()
    for item, ts in ((1, 1.0), (2, 2.0), (1, 3.0), (3, 4.0), (3, 5.0)):
        user.remember(item, ts, "view")
    assert user.recent_items(10) == [3, 1, 2]
    assert user.recent_items(2) == [3, 1]


def test_excluded_is_purchased_rated_and_disliked_not_seen():
    user = UserState(seen={1, 2, 3}, purchased={1}, rated={4}, disliked={5})
    assert user.excluded() == {1, 4, 5}


def test_states_do_not_share_containers():
    a, b = UserState(), UserState()
    a.note_interest(1, 2.0, rating=False)
    a.add_purchased(1)
    a.remember(1, 0.0, "view")
    assert b.seen == set() and b.purchased == set() and b.recent == [] and b.session_items == []


def test_item_sets_answer_like_python_sets():
    """Membership scans the records' bytes: a match straddling two records must not count."""
    rng = np.random.default_rng(3)
    # items whose bytes shift into each other's (256, 65536, 2**24 multiples and neighbours)
    pool = sorted({int(b) * m + d for b in range(1, 4) for m in (1, 256, 65536, 2**24) for d in (0, 1)})
    for _ in range(50):
        members = set(rng.choice(pool, 6, replace=False).tolist())
        user = UserState(seen=members, purchased=members)
        for item in pool:
            assert user.has_seen(item) == (item in members)
            assert user.has_excluded(item) == (item in members)
        assert user.seen == members and sorted(user.seen_items().tolist()) == sorted(members)


def test_interest_is_the_strongest_event_and_a_rating_replaces():
    user = UserState()
    user.note_interest(1, 2.0, rating=False)
    user.note_interest(1, 1.0, rating=False)  # a weaker event does not lower it
    user.note_interest(2, 1.0, rating=False)
    user.note_interest(3, 0.0, rating=True)  # a neutral rating of an unseen item: not seen, no weight
    user.note_interest(2, 0.0, rating=True)  # ... of a seen item: its weight drops to 0
    assert user.seen == {1, 2} and user.interest == {1: 2.0, 2: 0.0}
    items, weights = user.interest_items()
    assert dict(zip(items.tolist(), weights.tolist())) == {1: 2.0, 2: 0.0}


def test_read_only_views_are_copies():
    user = UserState(seen={1})
    with pytest.raises(AttributeError):
        user.seen.add(2)  # type: ignore[attr-defined]
    user.type_counts["view"] = 5
    user.affinity["shoes"] = 1.0
    assert user.type_counts == {} and user.affinity == {}


def filled_user() -> UserState:
    user = UserState(first_ts=5.0)
    step(user, 5.0, "client-session")
    for k, (event_type, ts) in enumerate((("view", 5.0), ("wishlist", 7.0), ("click", 6.0))):
        user.record_event(event_type, ts)
        user.note_interest(k, 1.0 + k, rating=False)
        user.remember(k, ts, event_type)
        user.add_affinity(f"cat{k % 2}", 0.5)
    user.add_purchased(7)
    user.add_rated(8)
    user.add_disliked(9)
    user.add_query("red shoes")
    return user


def test_a_user_pickles_alone():
    user = filled_user()
    copy = pickle.loads(pickle.dumps(user))
    assert copy == user and copy is not user
    assert copy.recent == user.recent and copy.session_id_for("u") == "client-session"
    assert copy.queries == ["red shoes"] and copy.excluded() == {7, 8, 9}


def test_snapshot_maps_codes_interned_in_another_order(monkeypatch):
    """A process that interned event types and categories in another order reads the names right."""
    from tastemaker.features import codes, user_snapshot, user_state

    user = filled_user()
    packed = user_snapshot.pack_users({"u": user})
    expected = (user.type_counts, [(r.item, r.ts, r.type) for r in user.recent], user.affinity)
    types, categories = codes.Codes(["wishlist", "zap", "click", "view"]), codes.Codes(["other", "cat1"])
    for module in (user_state, user_snapshot):
        monkeypatch.setattr(module, "EVENT_TYPES", types)
        monkeypatch.setattr(module, "CATEGORIES", categories)
    loaded = user_snapshot.unpack_users(packed, UserState)["u"]
    assert (loaded.type_counts, [(r.item, r.ts, r.type) for r in loaded.recent], loaded.affinity) == expected
    loaded.record_event("wishlist", 8.0)
    assert loaded.type_count("wishlist") == 2


def test_recent_events_follow_the_reference_list():
    """remember/partners/latest_distinct against the plain list they replace, with late events
    and a full list (the oldest goes; a late event older than all of a full list is not kept)."""
    rng = np.random.default_rng(11)
    user, reference = UserState(), []
    for k in range(400):
        item, ts = int(rng.integers(0, 30)), float(k if rng.random() < 0.7 else rng.integers(0, k + 1))
        event_type = ("view", "click", "purchase")[int(rng.integers(0, 3))]
        expected_partners = []
        for r in reversed(reference[-10:]):
            if ts - r.ts > 50.0:
                break
            if r.item != item and r.item not in expected_partners:
                expected_partners.append(r.item)
        assert user.partners(item, ts, 10, 50.0) == expected_partners
        user.remember(item, ts, event_type)
        bisect.insort(reference, RecentEvent(item, ts, event_type), key=lambda r: r.ts)
        del reference[: max(len(reference) - RECENT_LIMIT, 0)]
        assert user.recent == reference
    newest_first = list(dict.fromkeys(r.item for r in reversed(reference)))
    assert user.recent_items(8) == newest_first[:8]
    types = {}
    for r in reversed(reference):
        types.setdefault(r.item, r.type)
    assert user.latest_distinct(5, within={1, 2, 3}) == [(i, types[i]) for i in newest_first if i in {1, 2, 3}][:5]


@pytest.mark.parametrize("module", ["tastemaker.features.codes", "tastemaker.features.user_slab"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
