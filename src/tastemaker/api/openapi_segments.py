"""The OpenAPI entries of ``/v1/segments`` and ``/v1/segments/{name}``: schemas and examples."""

from __future__ import annotations

from typing import Any, Callable

from tastemaker.api.openapi_schemas import _n, _obj, _s, ref
from tastemaker.serving.segments import BUILTIN

_NOW = 1764921600.0
_NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}
EXPRESSION = ("A condition in the rules' expression language over one user: user.NAME (event_count, first_seen, "
              "last_seen, recency, tenure, active_days, orders, revenue, n_purchased, n_seen, churn_probability, "
              "clv, lifecycle, segments), events.TYPE (count of that event type), rfm.recency|frequency|monetary "
              "(1-5), features.NAME (feature registry), traits.NAME, context.NAME. Durations take units "
              "(`user.recency > 14d`); a missing value makes comparisons false.")
BODY = {"name": "lapsing-buyers", "expression": "user.orders >= 2 and user.recency > 14d",
        "description": "Bought twice, quiet for two weeks"}
EXAMPLE = {**BODY, "created_at": _NOW, "updated_at": _NOW, "version": 1}


def segment_schemas() -> dict[str, Any]:
    fields = {"name": _NAME, "expression": _s(EXPRESSION, maxLength=2000),
              "description": {"type": "string", "maxLength": 1000}}
    stored = {**fields, "created_at": _n("Epoch seconds"), "updated_at": _n("Epoch seconds"),
              "version": _n("Increments with every change", "integer")}
    return {
        "SegmentRequest": _obj(fields, ["name", "expression"], "A rule segment", closed=True),
        "SegmentUpdate": _obj({k: v for k, v in fields.items()}, ["expression"], "A rule segment's new definition "
                              "(`name`, if given, must be the path's)", closed=True),
        "Segment": _obj(stored, ["name", "expression", "description", "created_at", "updated_at", "version"]),
        "SegmentList": _obj({"segments": {"type": "array", "items": ref("Segment")},
                             "builtin": {"type": "array", "items": {"type": "string", "enum": list(BUILTIN)},
                                         "description": "Segments the engine computes itself"}},
                            ["segments", "builtin"]),
    }


def _example(op: dict[str, Any], values: dict[str, Any], request: tuple[str, Any] | None = None) -> dict[str, Any]:
    for status, value in values.items():
        op["responses"][status]["content"]["application/json"]["example"] = value
    if request is not None:
        op["requestBody"]["content"]["application/json"]["examples"] = {"example": {"summary": request[0], "value": request[1]}}
    return op


def add_segment_paths(paths: dict[str, Any], op: Callable[..., dict[str, Any]], path: Callable[..., dict[str, Any]],
                      problems: dict[str, tuple]) -> None:
    malformed, too_large = problems["malformed"], problems["too_large"]
    invalid = ("422", "Invalid segment (its expression's error names the 0-based position); nothing was stored",
               "Invalid segment", "expression", "unexpected end of expression at position 13: user.orders >\n"
                                                "             ^")
    unknown = ("404", "Unknown segment", "Unknown segment", "name", "no segment 'lapsing-buyers'")
    bad_name = ("400", "Invalid name", "Invalid segment name", "name", "a segment name is 1-64 of a-z, 0-9, '-', '_'")
    paths["/v1/segments"] = {
        "get": _example(op("GET /v1/segments", "Segments", "Rule segments, by name, and the built-in ones", "read",
                           {"200": ("Every rule segment", ref("SegmentList"))}),
                        {"200": {"segments": [EXAMPLE], "builtin": list(BUILTIN)}}),
        "post": _example(op("POST /v1/segments", "Segments", "Define a rule segment", "admin",
                            {"201": ("Created (`Location` is its URL)", ref("Segment"))},
                            [malformed, ("409", "A segment of that name exists", "Segment exists", "name",
                                         "a segment 'lapsing-buyers' exists already"), too_large, invalid],
                            body=ref("SegmentRequest"),
                            description="Membership is computed per request from the online state: the event that "
                                        "changes it is seen by the very next request, on every worker. Users' "
                                        "segments show in `GET /v1/users/{id}`, in rules (`\"vip\" in user.segments`) "
                                        "and in experiments' `population.segments`. Audited as `segments.create`."),
                         {"201": EXAMPLE}, ("Repeat buyers gone quiet", BODY)),
    }
    update = {k: v for k, v in BODY.items() if k != "name"}
    paths["/v1/segments/{name}"] = {
        "parameters": [path("name", "The segment name", "lapsing-buyers", dict(_NAME))],
        "get": _example(op("GET /v1/segments/{name}", "Segments", "One rule segment", "read",
                           {"200": ("Found", ref("Segment"))}, [bad_name, unknown]), {"200": EXAMPLE}),
        "put": _example(op("PUT /v1/segments/{name}", "Segments", "Create or replace a rule segment", "admin",
                           {"200": ("Replaced", ref("Segment")), "201": ("Created", ref("Segment"))},
                           [malformed, bad_name, too_large, invalid], body=ref("SegmentUpdate"),
                           description="Audited as `segments.update` (or `segments.create`)."),
                        {"200": {**EXAMPLE, "version": 2, "updated_at": _NOW + 60}, "201": EXAMPLE},
                        ("Replace the expression", update)),
        "delete": op("DELETE /v1/segments/{name}", "Segments", "Remove a rule segment", "admin",
                     {"204": ("Removed", {})}, [bad_name, unknown], description="Audited as `segments.delete`."),
    }
