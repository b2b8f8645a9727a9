"""Built-in user segments: the lifecycle stage and behaviour segments, from live state.

Lifecycle (exactly one stage per known user), from recency and tenure, with "now" the latest
event time the engine has seen (``OnlineState.clock``), so replays and imports agree:

============  ==================================================================================
stage         rule (defaults of :class:`LifecycleThresholds`)
============  ==================================================================================
new           first seen within ``new_within_s`` (7 days) and seen within ``active_within_s``
reactivated   came back after >= 30 days away (``customers.RETURN_AFTER_S``) within the last
              ``reactivated_within_s`` (14 days), and seen within ``active_within_s``
active        seen within ``active_within_s`` (7 days)
at_risk       last seen ``active_within_s`` to ``churned_after_s`` ago (7 to 30 days)
churned       last seen more than ``churned_after_s`` (30 days) ago
============  ==================================================================================

Behaviour segments (any number): ``engaged`` (>= 50 events), ``buyer`` (purchased),
``cart_abandoner`` (added to cart, never purchased).

>>> from tastemaker.features.customers import CustomerLedger
>>> ledger = CustomerLedger()
>>> ledger.observe("u", "view", None, 0.0)
>>> [lifecycle_stage(ledger.get("u"), now) for now in (86_400.0, 10 * 86_400.0, 40 * 86_400.0)]
['new', 'at_risk', 'churned']
>>> ledger.observe("u", "view", None, 40 * 86_400.0)
>>> lifecycle_stage(ledger.get("u"), 41 * 86_400.0), lifecycle_stage(ledger.get("u"), 60 * 86_400.0)
('reactivated', 'at_risk')
"""

from __future__ import annotations

from dataclasses import dataclass

from tastemaker.features.customers import Customer
from tastemaker.features.user_state import UserState

DAY_S = 86_400.0
LIFECYCLE_STAGES = ("new", "active", "reactivated", "at_risk", "churned")
BEHAVIOUR_SEGMENTS = ("engaged", "buyer", "cart_abandoner")
ENGAGED_FROM_EVENTS = 50


@dataclass(frozen=True)
class LifecycleThresholds:
    """Seconds that separate the lifecycle stages (see the module's table)."""

    new_within_s: float = 7 * DAY_S
    active_within_s: float = 7 * DAY_S
    churned_after_s: float = 30 * DAY_S
    reactivated_within_s: float = 14 * DAY_S

    def __post_init__(self) -> None:
        if not 0 < self.active_within_s < self.churned_after_s:
            raise ValueError("need 0 < active_within_s < churned_after_s")


DEFAULT_THRESHOLDS = LifecycleThresholds()


def lifecycle_stage(customer: Customer | None, now: float, t: LifecycleThresholds = DEFAULT_THRESHOLDS) -> str | None:
    """The stage of ``customer`` at ``now`` (None for a user with no activity)."""
    if customer is None:
        return None
    recency = now - customer.last_ts
    if recency > t.churned_after_s:
        return "churned"
    if recency > t.active_within_s:
        return "at_risk"
    if now - customer.first_ts <= t.new_within_s:
        return "new"
    if customer.returned_ts == customer.returned_ts and now - customer.returned_ts <= t.reactivated_within_s:
        return "reactivated"
    return "active"


def behaviour_segments(user: UserState | None) -> list[str]:
    """``engaged``, ``buyer``, ``cart_abandoner``: those that apply to ``user``."""
    if user is None:
        return []
    out = []
    if user.event_count >= ENGAGED_FROM_EVENTS:
        out.append("engaged")
    if user.n_purchased:
        out.append("buyer")
    if user.type_count("add_to_cart") and not user.type_count("purchase"):
        out.append("cart_abandoner")
    return out


def builtin_segments(user: UserState | None, customer: Customer | None, now: float,
                     t: LifecycleThresholds = DEFAULT_THRESHOLDS) -> list[str]:
    """The lifecycle stage (if any) followed by the behaviour segments."""
    stage = lifecycle_stage(customer, now, t)
    return ([stage] if stage else []) + behaviour_segments(user)
