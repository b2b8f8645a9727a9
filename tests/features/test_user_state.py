"""features.user_state: sessions, the capped recent list, excluded sets."""

from __future__ import annotations

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
    assert (user.session_id, user.session_start) == ("auto@100", 100.0)


def test_thirty_minutes_of_inactivity_start_a_new_session():
    user = UserState()
    step(user, 0.0)
    assert step(user, 1000.0) is False
    assert step(user, 1000.0 + TIMEOUT) is False  # exactly the timeout: still the same session
    assert user.session_id == "auto@0"
    assert step(user, 1000.0 + 2 * TIMEOUT + 1) is True
    assert (user.session_id, user.session_start) == (f"auto@{int(1000 + 2 * TIMEOUT + 1)}", 1000.0 + 2 * TIMEOUT + 1)


def test_a_new_session_id_starts_a_new_session():
    user = UserState()
    assert step(user, 0.0, "s1") is True and user.session_id == "s1"
    assert step(user, 10.0, "s1") is False
    assert step(user, 20.0) is False  # no id sent: continue the current session
    assert step(user, 30.0, "s2") is True
    assert (user.session_id, user.session_start) == ("s2", 30.0)


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
    a.seen.add(1)
    a.recent.append(RecentEvent(1, 0.0, "view"))
    assert b.seen == set() and b.recent == []
