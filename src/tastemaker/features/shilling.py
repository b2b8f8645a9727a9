"""Shilling: a burst of coordinated low-history users lifting one item.

Each item keeps the events that *young* users (at most ``young_events`` events in their
history, the caller decides) made on it within the last :data:`WINDOW_S` seconds of event
time, and a forward-decayed count of such events over a day (its baseline). A burst is
:data:`MIN_BURST` or more distinct young users within the window, and at least
:data:`FACTOR` times what the baseline (or the item's recent rate of all events) predicts for a window. On a burst the item is under
attack for :data:`HOLD_S`: the burst's events are returned (the caller quarantines them and
calls their users bots) and every later young user's event on the item is held.

Established users are never counted: an item that many regulars discover at once (a sale)
is not an attack. A real launch that brings many new visitors to one item can be; an
operator releases those users through the quarantine API.

>>> d = ShillingDetector()
>>> [d.observe("target", f"u{k}", 100.0 + k, k) for k in range(MIN_BURST - 1)][-1]
>>> burst = d.observe("target", "u-last", 200.0, 99)
>>> len(burst), d.attacked("target", 201.0)
(12, True)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

WINDOW_S = 900.0
MIN_BURST = 12  # distinct young users within WINDOW_S
FACTOR = 5.0  # ... and this many times the item's baseline rate
BASELINE_HALF_LIFE_S = 86_400.0
HOLD_S = 86_400.0  # how long an attacked item holds young users' events
MAX_ITEMS = 200_000


class _Item:
    __slots__ = ("at", "attacked_until", "baseline", "expected", "expected_at", "recent", "users")

    def __init__(self) -> None:
        self.recent: deque[tuple[float, str, int]] = deque()  # (ts, user, seq) within WINDOW_S
        self.users: dict[str, int] = {}  # events per user within WINDOW_S: its size is the distinct count
        self.expected = 0.0  # events per window that item_rate() predicted (cached for a minute)
        self.expected_at = -math.inf
        self.baseline = 0.0  # decayed count of young users' events, as of ``at``
        self.at = 0.0
        self.attacked_until = -math.inf


class ShillingDetector:
    """Bursts of young users per item (see the module docstring)."""

    def __init__(self) -> None:
        self.items: dict[str, _Item] = {}
        self.bursts = 0  # detected so far (a metric)

    def attacked(self, item_id: str, ts: float) -> bool:
        """Whether ``item_id`` is under attack at ``ts`` (young users' events on it are held)."""
        item = self.items.get(item_id)
        return item is not None and ts < item.attacked_until

    def observe(self, item_id: str, user_id: str, ts: float, seq: int,
                item_rate: Callable[[], float] | None = None) -> list[tuple[int, str]] | None:
        """Count a young user's positive event on ``item_id``; on the event that makes a burst,
        the burst's ``(seq, user)`` pairs (this event included), else None. ``item_rate()``:
        the item's recent rate of all events per second (trending's counter), asked only when
        a burst is near: a busy item's usual traffic is no attack, even right after a restart."""
        item = self.items.get(item_id)
        if item is None:
            if len(self.items) >= MAX_ITEMS:
                for key in list(self.items)[: MAX_ITEMS // 4]:
                    del self.items[key]
            item = self.items[item_id] = _Item()
        if ts < item.attacked_until:
            return None  # already held by the caller
        recent, users = item.recent, item.users
        while recent and recent[0][0] < ts - WINDOW_S:
            gone = recent.popleft()[1]
            left = users[gone] - 1
            if left:
                users[gone] = left
            else:
                del users[gone]
        recent.append((ts, user_id, seq))
        users[user_id] = users.get(user_id, 0) + 1
        if ts > item.at:
            item.baseline *= 2.0 ** (-(ts - item.at) / BASELINE_HALF_LIFE_S)
            item.at = ts
        item.baseline += 1.0
        if len(users) < MIN_BURST:
            return None
        # what the item's young traffic outside this window predicts for one window
        before = max(item.baseline - len(recent), 0.0)
        expected = before * WINDOW_S * math.log(2) / BASELINE_HALF_LIFE_S
        if item_rate is not None:
            if abs(ts - item.expected_at) > 60.0:  # asked at most once a minute per item
                item.expected, item.expected_at = item_rate() * WINDOW_S, ts
            expected = max(expected, item.expected)
        if len(users) < FACTOR * expected:
            return None
        item.attacked_until = ts + HOLD_S
        self.bursts += 1
        burst = [(s, u) for _, u, s in recent]
        recent.clear()
        users.clear()
        return burst
