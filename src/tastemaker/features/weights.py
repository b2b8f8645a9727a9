"""How much each event type says about interest (view < click < add_to_cart < purchase)."""

from __future__ import annotations

EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 2.0,
    "add_to_cart": 4.0,
    "purchase": 6.0,
    "like": 4.0,
    "share": 3.0,
    "rating": 3.0,  # scaled by the rating value, see interest_weight
    "dislike": 0.0,
    "impression": 0.0,  # exposure, not interest
    "feedback": 0.0,
    "search": 0.0,
}
CUSTOM_EVENT_WEIGHT = 1.0
# Ratings at or below this value are not a sign of interest.
RATING_NEUTRAL = 2.5


def interest_weight(event_type: str, value: float | None) -> float:
    """Weight of one event as a signal of positive interest in its item(s).

    >>> interest_weight("purchase", None) > interest_weight("view", None)
    True
    >>> interest_weight("rating", 1.0)
    0.0
    """
    weight = EVENT_WEIGHTS.get(event_type, CUSTOM_EVENT_WEIGHT)
    if event_type == "rating":
        if value is None or value <= RATING_NEUTRAL:
            return 0.0
        return weight * (value - RATING_NEUTRAL) / RATING_NEUTRAL
    return weight
