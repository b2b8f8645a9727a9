"""How much each event type says about interest (view < click < add_to_cart < purchase)."""

from __future__ import annotations

import math

from tastemaker.config import rating_scale_from_env

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
# Ratings above the configured scale (TASTEMAKER_RATING_SCALE) count as its top: values are
# validated at ingest, but a log may hold older, absurd ones (1e308 once overflowed to NaN).
RATING_MAX = rating_scale_from_env()[1]


def interest_weight(event_type: str, value: float | None) -> float:
    """Weight of one event as a signal of positive interest in its item(s).

    >>> interest_weight("purchase", None) > interest_weight("view", None)
    True
    >>> interest_weight("rating", 1.0)
    0.0
    >>> interest_weight("rating", 1e308) == interest_weight("rating", RATING_MAX)
    True
    """
    weight = EVENT_WEIGHTS.get(event_type, CUSTOM_EVENT_WEIGHT)
    if event_type == "rating":
        if value is None or not math.isfinite(value) or value <= RATING_NEUTRAL:
            return 0.0
        return weight * max(min(value, RATING_MAX) - RATING_NEUTRAL, 0.0) / RATING_NEUTRAL
    return weight
