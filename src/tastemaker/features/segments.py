"""Rule-based user segments, computed from the live user state when asked.

>>> from tastemaker.features.user_state import UserState
>>> user = UserState()
>>> user.event_count, user.last_ts = 3, 1_000.0
>>> lifecycle_segments(user, now=2_000.0)
['new', 'active']
"""

from __future__ import annotations

from tastemaker.features.user_state import UserState

ACTIVE_WITHIN_S = 7 * 86_400.0  # a user seen within a week is "active", else "lapsed"
NEW_BELOW_EVENTS = 5
ENGAGED_FROM_EVENTS = 50


def lifecycle_segments(user: UserState, now: float) -> list[str]:
    """The segments ``user`` is in at time ``now``: new/engaged, buyer, cart_abandoner, active/lapsed."""
    out = []
    if user.event_count < NEW_BELOW_EVENTS:
        out.append("new")
    elif user.event_count >= ENGAGED_FROM_EVENTS:
        out.append("engaged")
    if user.n_purchased:
        out.append("buyer")
    if user.type_count("add_to_cart") and not user.type_count("purchase"):
        out.append("cart_abandoner")
    out.append("active" if now - user.last_ts <= ACTIVE_WITHIN_S else "lapsed")
    return out
