"""Feature definitions: what a streaming feature computes, declared once.

A definition names an entity (``user``, ``item`` or ``category``: the event's user, each
of its items, each category of those items), a window, an aggregation and which events
count. The same definitions are folded online per event (:mod:`tastemaker.features.stream`)
and replayed over the log for training rows (:mod:`tastemaker.features.point_in_time`).

Aggregations (``types``: the event types counted, empty for all; ``value``: the number
an event contributes):

=============  ===============================================================================
count          events in the window
sum            sum of ``value`` over the window
mean           sum of ``value`` / events that carry it
rate           events per minute over the window
ratio          (sum of ``value`` or count) of ``types`` / the same of ``denominator_types``
mean_ratio     mean of ``value`` on ``types`` / mean of ``denominator_value`` on ``denominator_types``
since_last     seconds from the latest event of ``types`` to now (no window)
trend          Poisson z of the window's count against the ``long_window_s`` baseline,
               0 below ``min_count`` events in the window (the significance floor)
=============  ===============================================================================

Values: ``value`` (the event's value), ``item.price`` (the catalog price of the event's
item; a user's event sums its items' prices), ``context.<key>`` (a number in the event's
context, e.g. ``context.dwell_ms``). An event without the value contributes nothing to a
sum and is not counted by a mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ENTITIES = ("user", "item", "category")
AGGREGATIONS = ("count", "sum", "mean", "rate", "ratio", "mean_ratio", "since_last", "trend")
VALUE_FIELD = re.compile(r"^(value|item\.price|context\.[A-Za-z0-9_.\-]{1,64})$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MINUTE, HOUR, DAY = 60.0, 3600.0, 86_400.0
MAX_WINDOW_S = 90 * DAY
MAX_BUCKETS = 1440


@dataclass(frozen=True)
class FeatureDefinition:
    """One streaming feature. ``window_s`` is None only for ``since_last``."""

    name: str
    entity: str
    aggregation: str
    window_s: float | None = None
    types: frozenset[str] = frozenset()
    value: str | None = None
    denominator_types: frozenset[str] = frozenset()
    denominator_value: str | None = None
    long_window_s: float | None = None
    min_count: float = 5.0
    buckets: int | None = None  # None: windows.default_buckets
    description: str = ""
    builtin: bool = field(default=False, compare=False)

    @property
    def type(self) -> str:
        """The JSON type of the value: counts are integers, everything else a number."""
        return "integer" if self.aggregation == "count" else "number"

    def to_dict(self) -> dict[str, Any]:
        """The definition as ``GET /v1/features`` lists it."""
        out: dict[str, Any] = {"name": self.name, "entity": self.entity, "aggregation": self.aggregation,
                               "window_s": self.window_s, "types": sorted(self.types), "value": self.value,
                               "type": self.type, "description": self.description, "builtin": self.builtin}
        if self.aggregation in ("ratio", "mean_ratio"):
            out["denominator_types"] = sorted(self.denominator_types)
            out["denominator_value"] = self.denominator_value
        if self.aggregation == "trend":
            out["long_window_s"], out["min_count"] = self.long_window_s, self.min_count
        if self.buckets is not None:
            out["buckets"] = self.buckets
        return out


def problems(d: FeatureDefinition) -> list[tuple[str, str]]:
    """``(field, reason)`` for each thing wrong with a definition (empty: valid).

    >>> problems(FeatureDefinition("x", "user", "count", window_s=-1))
    [('window_s', 'must be a number of seconds between 1 and 7776000')]
    """
    out: list[tuple[str, str]] = []
    if not NAME.match(d.name):
        out.append(("name", "must be 1-64 characters: a lowercase letter, then lowercase letters, digits or _"))
    if d.entity not in ENTITIES:
        out.append(("entity", f"must be one of {', '.join(ENTITIES)}"))
    if d.aggregation not in AGGREGATIONS:
        out.append(("aggregation", f"must be one of {', '.join(AGGREGATIONS)}"))
    if d.aggregation == "since_last":
        if d.window_s is not None:
            out.append(("window_s", "since_last has no window"))
    elif not isinstance(d.window_s, (int, float)) or not 1.0 <= d.window_s <= MAX_WINDOW_S:
        out.append(("window_s", f"must be a number of seconds between 1 and {int(MAX_WINDOW_S)}"))
    for name, value in (("value", d.value), ("denominator_value", d.denominator_value)):
        if value is not None and not VALUE_FIELD.match(value):
            out.append((name, "must be value, item.price or context.<key>"))
    if d.aggregation in ("sum", "mean", "mean_ratio") and d.value is None:
        out.append(("value", f"{d.aggregation} needs a value field"))
    if d.aggregation == "mean_ratio" and d.denominator_value is None:
        out.append(("denominator_value", "mean_ratio needs a denominator value field"))
    if d.aggregation in ("ratio", "mean_ratio") and not d.denominator_types:
        out.append(("denominator_types", f"{d.aggregation} needs denominator event types"))
    if d.aggregation == "trend":
        if not isinstance(d.long_window_s, (int, float)) or d.window_s is None or not (
                d.window_s < d.long_window_s <= MAX_WINDOW_S):
            out.append(("long_window_s", "must be longer than window_s and at most 90 days"))
        if not 0 <= d.min_count <= 1e9:
            out.append(("min_count", "must be between 0 and 1e9"))
    if d.buckets is not None and not (isinstance(d.buckets, int) and 1 <= d.buckets <= MAX_BUCKETS):
        out.append(("buckets", f"must be an integer between 1 and {MAX_BUCKETS}"))
    return out


def _d(name: str, entity: str, aggregation: str, window_s: float | None, types: tuple[str, ...] = (),
       description: str = "", **kwargs: Any) -> FeatureDefinition:
    for key in ("denominator_types",):
        if key in kwargs:
            kwargs[key] = frozenset(kwargs[key])
    return FeatureDefinition(name, entity, aggregation, window_s, frozenset(types), description=description,
                             builtin=True, **kwargs)


VIEW, CLICK, CART, BUY = ("view",), ("click",), ("add_to_cart",), ("purchase",)
DEFAULT_DEFINITIONS: tuple[FeatureDefinition, ...] = (
    _d("user_events_1m", "user", "count", MINUTE, (), "events of any type in the last minute"),
    _d("user_events_5m", "user", "count", 5 * MINUTE, (), "events of any type in the last 5 minutes"),
    _d("user_views_1h", "user", "count", HOUR, VIEW, "views in the last hour"),
    _d("user_views_1d", "user", "count", DAY, VIEW, "views in the last day"),
    _d("user_clicks_1d", "user", "count", DAY, CLICK, "clicks in the last day"),
    _d("user_carts_1d", "user", "count", DAY, CART, "add-to-carts in the last day"),
    _d("user_purchases_1d", "user", "count", DAY, BUY, "purchases in the last day"),
    _d("user_revenue_1d", "user", "sum", DAY, BUY, "purchase value in the last day", value="value"),
    _d("user_event_rate_1h", "user", "rate", HOUR, (), "events per minute over the last hour"),
    _d("user_ctr_1d", "user", "ratio", DAY, CLICK, "clicks / views over the last day", denominator_types=VIEW),
    _d("user_cart_rate_1d", "user", "ratio", DAY, CART, "add-to-carts / views over the last day",
       denominator_types=VIEW),
    _d("user_dwell_mean_1h", "user", "mean", HOUR, VIEW, "mean context.dwell_ms of views in the last hour",
       value="context.dwell_ms"),
    _d("user_price_sensitivity_1d", "user", "mean_ratio", DAY, BUY,
       "mean price purchased / mean price viewed over the last day (below 1: buys cheaper than browses)",
       value="item.price", denominator_types=VIEW, denominator_value="item.price"),
    _d("user_seconds_since_last", "user", "since_last", None, (), "seconds since the user's latest event"),
    _d("item_views_1h", "item", "count", HOUR, VIEW, "views of the item in the last hour"),
    _d("item_views_1d", "item", "count", DAY, VIEW, "views of the item in the last day"),
    _d("item_purchases_1d", "item", "count", DAY, BUY, "purchases of the item in the last day"),
    _d("item_ctr_1d", "item", "ratio", DAY, CLICK, "clicks / views of the item over the last day",
       denominator_types=VIEW),
    _d("item_trend_1h", "item", "trend", HOUR, (), "Poisson z of the last hour's events against the day's rate "
       "(0 below 5 events)", long_window_s=DAY, min_count=5.0),
    _d("category_views_1h", "category", "count", HOUR, VIEW, "views of the category's items in the last hour"),
    _d("category_trend_1h", "category", "trend", HOUR, (), "Poisson z of the category's last hour against its "
       "day (0 below 5 events)", long_window_s=DAY, min_count=5.0),
)
