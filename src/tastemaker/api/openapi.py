"""The OpenAPI 3.1 document, with record schemas generated from the msgspec structs.

Generating the component schemas from the same structs that validate requests keeps the
document and the behaviour from drifting apart.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tastemaker import __version__
from tastemaker.api.keys_api import KeyRequest
from tastemaker.api.models import TrainRequest
from tastemaker.schema.records import Event, Item, User
from tastemaker.schema.registry import EventSchema
from tastemaker.serving.request import MAX_N

REF = "#/components/schemas/{name}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _ref("Problem")}}}


ERRORS = {"401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}}


def _op(summary: str, scope: str | None, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if scope is None:
        op["security"] = []
    else:
        op["responses"] = {**responses, **ERRORS}
        op["description"] = (extra.get("description", "") + f"\n\nRequires the `{scope}` scope (or `admin`).").strip()
    return op


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
BODY_OR_BATCH = lambda name: {  # noqa: E731
    "required": True,
    "content": {"application/json": {"schema": {"oneOf": [_ref(name), {"type": "array", "items": _ref(name), "maxItems": 10000}]}}},
}


def _document_paths(name: str, record: str, scope_write: str) -> dict[str, Any]:
    one = {"required": True, "content": {"application/json": {"schema": _ref(record)}}}
    merge = {"required": True, "content": {"application/merge-patch+json": {"schema": {"type": "object"}}, "application/json": {"schema": {"type": "object"}}}}
    return {
        f"/v1/{name}": {"post": _op(f"Upsert one or many {name}", scope_write, {
            "200": _json({"type": "object", "properties": {"upserted": {"type": "integer"}, "version": {"type": "integer"}}}),
            "400": _problem("Malformed JSON"), "422": _problem("Invalid record; nothing was written"),
        }, requestBody=BODY_OR_BATCH(record))},
        f"/v1/{name}/{{id}}": {
            "parameters": [ID_PARAM],
            "get": _op(f"Get one of the {name}", "read", {"200": _json(_ref(record if name == "items" else "UserProfile")), "404": _problem("Not found")}),
            "put": _op(f"Replace one of the {name}", scope_write, {"200": _json(_ref(record)), "422": _problem("Invalid record")}, requestBody=one),
            "patch": _op(f"Merge-patch one of the {name} (RFC 7386)", scope_write, {"200": _json(_ref(record)), "404": _problem("Not found"), "422": _problem("Invalid result")}, requestBody=merge),
            "delete": _op(f"Delete one of the {name}", scope_write, {"204": {"description": "Deleted"}, "404": _problem("Not found")}),
        },
    }


def build_openapi() -> dict[str, Any]:
    _, components = msgspec.json.schema_components([Event, Item, User, EventSchema, KeyRequest, TrainRequest], ref_template=REF)
    rec_item = {"type": "object", "required": ["id", "score", "source"], "properties": {
        "id": {"type": "string"}, "score": {"type": "number"}, "source": {"type": "string"},
        "explanation": {"type": "object", "properties": {
            "source": {"type": "string"}, "reason": {"type": "string"}, "because_of": {"type": "array", "items": {"type": "string"}},
            "rules": {"type": "array", "description": "business rules and re-ranking stages that moved the item",
                      "items": {"type": "object", "properties": {"rule": {"type": "string"}, "effect": {"type": "string"}}}},
        }},
    }}
    components.update({
        "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
            "field": {"type": "string", "description": "JSON pointer (bodies) or parameter name of the first offending field"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "reason": {"type": "string"}}}},
        }},
        "RecommendedItem": rec_item,
        "Recommendations": {"type": "object", "required": ["recommendation_id", "placement", "items", "model_version"], "properties": {
            "recommendation_id": {"type": "string"}, "placement": {"type": "string"}, "model_version": {"type": "string"},
            "items": {"type": "array", "items": _ref("RecommendedItem")},
            "rules_dropped": {"type": "array", "description": "with explain=true: pinned items a filter excluded",
                              "items": {"type": "object", "properties": {"id": {"type": "string"}, "rule": {"type": "string"},
                                                                         "effect": {"type": "string"}}}},
        }},
        "PlacementConfig": {"type": "object", "required": ["sources"], "description":
                            "One placement, as in the placement file: sources, n, ranker (blend | ltr), diversity, "
                            "fairness, rules, promotions, overrides, log_impressions, ...", "properties": {
            "description": {"type": "string"}, "n": {"type": "integer", "minimum": 1, "maximum": MAX_N},
            "sources": {"type": "object", "additionalProperties": {"oneOf": [
                {"type": "number", "minimum": 0},
                {"type": "object", "properties": {"weight": {"type": "number"}, "n": {"type": "integer"}}}]}},
            "ranker": {"type": "string", "enum": ["blend", "ltr"]},
            "diversity": {"type": "object", "properties": {"lambda": {"type": "number"}, "by": {"type": "string", "enum": ["categories", "embeddings"]}, "calibration": {"type": "number"}, "method": {"type": "string", "enum": ["mmr", "mmr-sum", "swap"]}}},
            "fairness": {"type": "object", "properties": {"popularity_penalty": {"type": "number"}, "min_exposure": {"type": "object"}}},
            "rules": {"type": "array", "items": {"type": "object"}},
            "promotions": {"type": "array", "items": {"type": "object"}},
            "overrides": {"type": "array", "items": {"type": "string"}},
            "seen_penalty": {"type": "number"}, "include_purchased": {"type": "boolean"}, "exclude_seen": {"type": "boolean"},
            "log_impressions": {"type": "boolean"},
        }},
        "Placement": {"type": "object", "required": ["name", "sources", "ranker", "origin"], "properties": {
            "name": {"type": "string"}, "description": {"type": "string"}, "n": {"type": "integer"},
            "sources": {"type": "object"}, "ranker": {"type": "string"}, "diversity": {"type": ["object", "null"]},
            "fairness": {"type": ["object", "null"]}, "rules": {"type": "object"}, "overrides": {"type": "array", "items": {"type": "string"}},
            "log_impressions": {"type": "boolean"}, "origin": {"type": "string", "enum": ["built-in", "configured"]},
            "config": {"description": "the configuration document (null for a built-in placement)"},
        }},
        "UserProfile": {"allOf": [_ref("User"), {"type": "object", "properties": {"activity": {"type": ["object", "null"]}}}]},
        "IngestResult": {"type": "object", "required": ["accepted", "duplicates"], "properties": {"accepted": {"type": "integer"}, "duplicates": {"type": "integer"}}},
    })
    rec_params = [
        _query("user_id", "The user (or anonymous session) to recommend for", {"type": "string", "minLength": 1}, True),
        _query("placement", "Placement name (home, product-page, cart, email)", {"type": "string", "default": "home"}),
        _query("n", "How many items", {"type": "integer", "minimum": 1, "maximum": MAX_N, "default": 10}),
        _query("exclude", "Comma-separated item ids never to return", {"type": "string"}),
        _query("category", "Only items of this category", {"type": "string"}),
        _query("brand", "Only items of this brand", {"type": "string"}),
        _query("item_id", "The item on screen (product page, cart): seeds co-visitation", {"type": "string"}),
        _query("explain", "Add an explanation to each item", {"type": "boolean", "default": False}),
        _query("include_purchased", "Allow purchased, rated and disliked items", {"type": "boolean", "default": False}),
        *[_query(c, f"Request context: {c}", {"type": "string"}) for c in ("channel", "device", "locale", "geo", "referrer", "user_agent")],
        {"name": "override", "in": "query", "style": "form", "explode": True, "schema": {"type": "object", "additionalProperties": {"type": "string"}},
         "description": "Per-request changes the placement allows, as override.KEY=VALUE: override.n, override.diversity, "
                        "override.calibration, override.margin, override.popularity_penalty (0..1), override.price (MIN..MAX), "
                        "override.disable (rule names), override.ranker (blend | ltr). A key the placement does not allow is a 400 naming override.KEY."},
    ]
    paths: dict[str, Any] = {
        "/v1/events": {"post": _op("Record events (one or up to 10,000)", "ingest", {
            "200": _json(_ref("IngestResult"), "Durable and applied: the next request sees them"),
            "400": _problem("Malformed JSON"), "413": _problem("Batch or body too large"),
            "422": _problem("Invalid event; nothing of the batch was written"),
        }, requestBody=BODY_OR_BATCH("Event"))},
        "/v1/recommendations": {"get": _op("Recommendations for a user and placement", "read", {
            "200": _json(_ref("Recommendations")), "400": _problem("Invalid parameter"), "404": _problem("Unknown placement"),
        }, parameters=rec_params)},
        "/v1/items/{id}/similar": {"get": _op("Items similar to an item", "read", {
            "200": _json({"type": "object", "properties": {"item_id": {"type": "string"}, "items": {"type": "array", "items": _ref("RecommendedItem")}}}),
            "400": _problem("Invalid parameter"), "404": _problem("Unknown item"),
        }, parameters=[ID_PARAM, _query("n", "How many items", {"type": "integer", "minimum": 1, "maximum": MAX_N, "default": 10})])},
        **_document_paths("items", "Item", "ingest"),
        **_document_paths("users", "User", "ingest"),
        "/v1/event-schemas": {
            "get": _op("Latest schema of every event type", "read", {"200": _json({"type": "object"})}),
            "post": _op("Register a new event schema version", "admin", {
                "201": _json(_ref("EventSchema")), "409": _problem("Not backward compatible"), "422": _problem("Invalid schema"),
            }, requestBody={"required": True, "content": {"application/json": {"schema": _ref("EventSchema")}}}),
        },
        "/v1/event-schemas/{type}": {"get": _op("All versions of one event type's schema", "read", {
            "200": _json({"type": "object"}), "404": _problem("Unknown type"),
        }, parameters=[{"name": "type", "in": "path", "required": True, "schema": {"type": "string"}}])},
        "/v1/keys": {
            "get": _op("List API keys", "admin", {"200": _json({"type": "object"})}),
            "post": _op("Create an API key (the token is shown once)", "admin", {"201": _json({"type": "object"}), "422": _problem("Invalid scopes")},
                        requestBody={"required": True, "content": {"application/json": {"schema": _ref("KeyRequest")}}}),
        },
        "/v1/keys/{id}": {"delete": _op("Revoke an API key", "admin", {"204": {"description": "Revoked"}, "404": _problem("Unknown key")}, parameters=[ID_PARAM])},
        "/v1/models": {"get": _op("Model versions and which one serves", "read", {"200": _json({"type": "object"})})},
        "/v1/models/train": {"post": _op("Train a model on the event log, evaluate it against the serving version, register it", "admin", {
            "201": _json({"type": "object"}), "409": _problem("Nothing to train on"), "422": _problem("Invalid request"),
        }, requestBody={"required": False, "content": {"application/json": {"schema": _ref("TrainRequest")}}})},
        "/v1/models/rollback": {"post": _op("Serve the previously serving version again", "admin", {
            "200": _json({"type": "object"}), "409": _problem("No earlier version"),
        })},
        "/v1/models/{version}/promote": {"post": _op("Serve this version", "admin", {
            "200": _json({"type": "object"}), "400": _problem("Invalid version"), "404": _problem("Unknown version"),
        }, parameters=[{"name": "version", "in": "path", "required": True, "schema": {"type": "integer"}}])},
        "/v1/placements": {"get": _op("Placements in force (built-in and configured)", "read", {
            "200": _json({"type": "object", "properties": {"placements": {"type": "array", "items": _ref("Placement")}}})})},
        "/v1/placements/{name}": {
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}}],
            "get": _op("One placement", "read", {"200": _json(_ref("Placement")), "404": _problem("Unknown placement")}),
            "put": _op("Configure a placement (applies to every worker within a second)", "admin", {
                "200": _json(_ref("Placement"), "Replaced"), "201": _json(_ref("Placement"), "Created"),
                "400": _problem("Malformed JSON or invalid name"), "422": _problem("Invalid configuration; fields are JSON pointers into the body"),
            }, requestBody={"required": True, "content": {"application/json": {"schema": _ref("PlacementConfig")}}}),
            "delete": _op("Remove a configured placement (a built-in one returns to its default)", "admin", {
                "204": {"description": "Removed"}, "404": _problem("Not configured"),
            }),
        },
        "/healthz": {"get": _op("Liveness", None, {"200": _json({"type": "object"})})},
        "/readyz": {"get": _op("Readiness", None, {"200": _json({"type": "object"}), "503": _json({"type": "object"}, "Not ready")})},
        "/metrics": {"get": _op("Prometheus metrics", None, {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}})},
        "/openapi.json": {"get": _op("This document", None, {"200": _json({"type": "object"})})},
        "/docs": {"get": _op("API documentation page", None, {"200": {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}}})},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tastemaker", "version": __version__, "description": "Real-time personalization engine",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "tm_<key id>_<secret>"}},
            "responses": {"Unauthorized": _problem("Missing or invalid API key"), "Forbidden": _problem("The key lacks the required scope")},
        },
    }
