"""The OpenAPI entries of ``/v1/features``: the streaming feature registry and values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tastemaker.api.openapi_schemas import _n, _obj, _s, ref
from tastemaker.features.definitions import AGGREGATIONS, DEFAULT_DEFINITIONS, ENTITIES

_NOW = 1764921600.0
_VALUE = {"type": ["string", "null"], "pattern": r"^(value|item\.price|context\.[A-Za-z0-9_.\-]{1,64})$",
          "description": "What an event adds: its `value`, its item's `item.price`, or a number in its context "
                         "(`context.dwell_ms`); null: the aggregation counts events"}
_TYPES = {"type": "array", "items": {"type": "string"}, "description": "Event types counted (empty: all)"}
_DURATION = {"type": ["number", "string"], "description": "Seconds, or a duration such as 90s, 5m, 1h, 1d"}
VALUES = {"user_views_1h": 3, "user_ctr_1d": 0.3333, "user_seconds_since_last": 42.0, "user_dwell_mean_1h": None}
DOCUMENT = {"features": [{"name": "user_scroll_sum_90s", "entity": "user", "aggregation": "sum", "window": "90s",
                          "types": ["view"], "value": "context.scroll", "buckets": 9}]}


def feature_schemas() -> dict[str, Any]:
    definition = _obj({
        "name": _s("Unique name", pattern="^[a-z][a-z0-9_]{0,63}$"),
        "entity": {"type": "string", "enum": list(ENTITIES), "description": "Whose feature: the event's user, each "
                   "of its items, each category of those items"},
        "aggregation": {"type": "string", "enum": list(AGGREGATIONS)},
        "window_s": {"type": ["number", "null"], "description": "Sliding window in seconds (null for since_last)"},
        "types": _TYPES, "value": _VALUE,
        "type": {"type": "string", "enum": ["integer", "number"], "description": "The JSON type of the value"},
        "description": {"type": "string"}, "builtin": {"type": "boolean"},
        "denominator_types": _TYPES, "denominator_value": _VALUE,
        "long_window_s": _n("Trend: the baseline window in seconds"),
        "min_count": _n("Trend: events needed in the window before the score is not 0 (the significance floor)"),
        "buckets": _n("Buckets the window is cut in (its resolution)", "integer"),
    }, ["name", "entity", "aggregation", "window_s", "types", "value", "type", "description", "builtin"])
    entry = _obj({
        "name": _s("Unique name (not a built-in's)", pattern="^[a-z][a-z0-9_]{0,63}$"),
        "entity": {"type": "string", "enum": list(ENTITIES)}, "aggregation": {"type": "string", "enum": list(AGGREGATIONS)},
        "window": _DURATION, "types": _TYPES, "value": _VALUE, "denominator_types": _TYPES,
        "denominator_value": _VALUE, "long_window": _DURATION, "min_count": _n("Trend significance floor"),
        "buckets": {"type": "integer", "minimum": 1, "maximum": 1440}, "description": {"type": "string"},
    }, ["name", "entity", "aggregation"], "A user-defined feature", closed=True)
    number = {"type": ["number", "integer", "null"]}
    return {
        "FeatureDefinition": definition,
        "FeatureList": _obj({"features": {"type": "array", "items": ref("FeatureDefinition")},
                             "late_dropped": _n("Events dropped as a whole window behind their entity's newest "
                                                "event (counted per ring)", "integer"),
                             "clock": _n("The latest event time: values are read at this time by default")},
                            ["features", "late_dropped", "clock"]),
        "FeatureDocument": _obj({"features": {"type": "array", "items": ref("FeatureEntry")}}, ["features"],
                                "The user-defined features (features.yaml)", closed=True),
        "FeatureEntry": entry,
        "FeatureValues": _obj({"entity": {"type": "string", "enum": list(ENTITIES)}, "id": _s("The entity's id"),
                               "at": _n("Time the windows were read at (epoch seconds)"),
                               "features": {"type": "object", "additionalProperties": number,
                                            "description": "Each feature of the entity; null where undefined "
                                                           "(a ratio over no events)"}},
                              ["entity", "id", "at", "features"]),
        "FeatureTop": _obj({"feature": _s("The feature ranked by"), "entity": {"type": "string", "enum": ["item", "category"]},
                            "at": _n("Time the windows were read at"),
                            "top": {"type": "array", "items": _obj({"id": _s("Item or category"), "value": _n("Its value")},
                                                                   ["id", "value"])}},
                           ["feature", "entity", "at", "top"]),
    }


def _example(op: dict[str, Any], status: str, value: Any) -> dict[str, Any]:
    op["responses"][status]["content"]["application/json"]["example"] = value
    return op


def add_feature_paths(paths: dict[str, Any], op: Callable[..., dict[str, Any]], path: Callable[..., dict[str, Any]],
                      query: Callable[..., dict[str, Any]], problems: dict[str, tuple]) -> None:
    listing = {"features": [d.to_dict() for d in DEFAULT_DEFINITIONS[:2]], "late_dropped": 0, "clock": _NOW}
    at = query("at", "Read the windows at this time (epoch seconds; default: the latest event time)",
               {"type": "number", "minimum": 0, "maximum": 1e11})
    bad_at = ("400", "Invalid parameter", "Invalid query parameter", "at", "must be a number between 0 and 1e+11")
    invalid = ("422", "Invalid feature document; nothing was changed", "Invalid feature document",
               "/features/0/entity", "must be one of user, item, category")
    put = op("PUT /v1/features", "Features", "Replace the user-defined features", "admin",
             {"200": ("Stored and refolded from the event log", ref("FeatureList"))},
             [problems["malformed"], problems["too_large"], invalid], body=ref("FeatureDocument"),
             description="JSON, or the YAML document as `application/yaml`. Every feature is refolded from the event "
                         "log (one pass); other workers read the document on their next start. Audited as "
                         "`features.update`.")
    put["requestBody"]["content"]["application/json"]["examples"] = {
        "example": {"summary": "A sum over a context field, 90 s in 9 buckets", "value": DOCUMENT}}
    _example(put, "200", {"features": [*listing["features"], {
        "name": "user_scroll_sum_90s", "entity": "user", "aggregation": "sum", "window_s": 90.0, "types": ["view"],
        "value": "context.scroll", "type": "number", "description": "", "builtin": False, "buckets": 9}],
        "late_dropped": 0, "clock": _NOW})
    paths["/v1/features"] = {
        "get": _example(op("GET /v1/features", "Features", "The streaming feature definitions", "read",
                           {"200": ("Built-in and user-defined definitions", ref("FeatureList"))},
                           description="Windowed counts, sums, rates, ratios, since-last and trends per user, item "
                                       "and category, folded per event; exact at bucket resolution."), "200", listing),
        "put": put,
    }
    paths["/v1/features/top/{name}"] = {
        "parameters": [path("name", "An item or category feature", "item_trend_1h")],
        "get": _example(op("GET /v1/features/top/{name}", "Features", "Items or categories with the highest value",
                           "read", {"200": ("Best first; values above 0 only", ref("FeatureTop"))},
                           [bad_at, ("404", "Unknown feature", "Unknown feature", "name",
                                     "no item or category feature 'x'")],
                           parameters=[query("n", "How many (1-1000)", {"type": "integer", "minimum": 1,
                                                                        "maximum": 1000}), at],
                           description="`item_trend_1h` gives the trending list: Poisson z of the last hour against "
                                       "the day, 0 under the significance floor."), "200",
                        {"feature": "item_trend_1h", "entity": "item", "at": _NOW,
                         "top": [{"id": "sku-1042", "value": 6.2}]}),
    }
    paths["/v1/features/{entity}/{id}"] = {
        "parameters": [path("entity", "user, item or category", "user", {"type": "string", "enum": list(ENTITIES)}),
                       path("id", "The user, item or category id", "u-1842")],
        "get": _example(op("GET /v1/features/{entity}/{id}", "Features", "One entity's feature values now", "read",
                           {"200": ("Every feature of the entity", ref("FeatureValues"))},
                           [("400", "Invalid entity or parameter", "Invalid entity", "entity",
                             "must be one of user, item, category"),
                            ("404", "No event of this entity yet", "Unknown entity", "id", "no events of user 'u-9'")],
                           parameters=[at]), "200",
                        {"entity": "user", "id": "u-1842", "at": _NOW, "features": VALUES}),
    }
