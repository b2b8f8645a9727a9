"""The component schemas of the OpenAPI document.

Record schemas (events, items, users, event schemas, key and training requests) are
generated from the msgspec structs that validate requests, so the document and the
behaviour cannot drift apart; response shapes are written here, field by field, from what
the handlers return (a schemathesis run in tests/api checks every answer against them).
"""

from __future__ import annotations

from typing import Any

import msgspec

from tastemaker.api.keys import SCOPES
from tastemaker.api.keys_api import KeyRequest
from tastemaker.api.models import TrainRequest
from tastemaker.schema.records import BUILTIN_EVENT_TYPES, Event, Item, User
from tastemaker.schema.registry import EventSchema
from tastemaker.serving.request import MAX_N

REF = "#/components/schemas/{name}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


def _obj(properties: dict[str, Any], required: list[str] | None = None, description: str | None = None,
         closed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if description:
        out["description"] = description
    if closed:
        out["additionalProperties"] = False
    return out


def _s(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _n(description: str, kind: str = "number", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **extra}


def _map(values: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": values, "description": description}


FIELD_NOTES = {
    "Event": {
        "id": "Your unique id for this event: resending it is harmless (counted as a duplicate)",
        "user_id": "Who did it (a logged-in user or an anonymous visitor's id)",
        "session_id": "The visit it belongs to (default: a new session after 30 minutes without events)",
        "item_id": "The item it is about", "item_ids": "Several items (a basket, a purchase of many)",
        "query": "Search text (for `search`)", "context": "Device, channel, locale, geo, ...: for context-aware sources",
        "properties": "Type-specific fields, as the event type's schema describes",
        "schema_version": "The version of the event type's schema it follows (default: the latest)",
    },
    "Item": {
        "id": "Your item id", "title": "Shown in explanations", "categories": "For category affinity, filters and diversity",
        "price": "For price rules and `override.price`", "margin": "For the placement's margin rule", "stock": "Units in stock (the `in_stock` rule filters on it)",
        "tags": "Free labels (rule expressions can test them: `\"sale\" in tags`)", "created_at": "Publication time: epoch seconds or ISO 8601",
        "properties": "Anything else; numeric ones are usable in rule expressions as `properties.NAME`",
    },
    "User": {"id": "Your user id", "traits": "Anything you know about the user (stored, returned with the profile)",
             "consent": "Purpose -> granted, e.g. `{\"personalization\": true}` (stored, returned with the profile)"},
}


_AUDIT_RECORD = _obj({
    "seq": _n("Position in the log, from 1", "integer"), "ts": _n("When (epoch seconds)"),
    "actor": _s("Who: the key id (`cli` for the command line)"), "action": _s("What, e.g. `keys.create`"),
    "target": _s("What it was done to: a key id, placement, model version, event type, user id"),
    "summary": {"type": "object", "description": "A few details (e.g. scopes; old and new consent)"},
    "address": _s("From where: the client address"),
    "prev_hash": _s("The previous record's hash (64 zeros for the first)"),
    "hash": _s("sha256 of prev_hash + this record's canonical JSON"),
}, ["seq", "ts", "actor", "action", "target", "summary", "address", "prev_hash", "hash"])


_LIST = {"type": "array", "items": {"type": "object"}}
_USER_EXPORT = _obj({
    "format": _s("`tastemaker.user-export/1`"), "user_id": {"type": "string"}, "exported_at": _n("Epoch seconds"),
    "profile": {"anyOf": [_obj({"id": {"type": "string"}, "traits": {"type": "object"}, "consent": {"type": "object"}}),
                          {"type": "null"}], "description": "The stored user document (null: none stored)"},
    "consent_in_effect": _obj({"personalization": {"type": "boolean"}, "training": {"type": "boolean"},
                               "analytics": {"type": "boolean"}, "default": _s("`allowed` or `required`")}),
    "online_state": {"anyOf": [ref("Activity"), {"type": "null"}], "description": "As `GET /v1/users/{id}` shows it"},
    "keys": {**_LIST, "description": "Browser keys bound to the person, without secrets (other keys belong to applications)"},
    "audit": {**_LIST, "description": "Audit records whose target is the person"},
    "impressions": {**_LIST, "description": "Lists served to them, as the impression log holds them"},
    "events": {**_LIST, "description": "Every logged event, in log order, every field (`seq` is the log position)"},
    "counts": _obj({"events": {"type": "integer"}, "impressions": {"type": "integer"}, "audit": {"type": "integer"}}),
}, ["format", "user_id", "exported_at", "profile", "consent_in_effect", "online_state", "keys", "audit", "impressions",
    "events", "counts"], "Everything held about one person")


def _record_schemas() -> dict[str, Any]:
    _, components = msgspec.json.schema_components([Event, Item, User, EventSchema, KeyRequest, TrainRequest],
                                                    ref_template=REF)
    event_type = components["Event"]["properties"]["type"]
    event_type["description"] = (
        "The event type: one of the built-in types " + ", ".join(f"`{t}`" for t in BUILTIN_EVENT_TYPES)
        + ", or a custom type registered first with `POST /v1/event-schemas`.")
    event_type["examples"] = list(BUILTIN_EVENT_TYPES)
    components["Event"]["properties"]["timestamp"]["description"] = (
        "When it happened: epoch seconds or ISO 8601 (default: when the server received it)")
    components["Event"]["properties"]["value"]["description"] = "The rating (for `rating`) or an amount"
    components["Event"]["properties"]["recommendation_id"]["description"] = (
        "The `recommendation_id` of the list the user acted on (attributes the event to it)")
    for record, fields in FIELD_NOTES.items():
        for name, note in fields.items():
            components[record]["properties"][name].setdefault("description", note)
    components["KeyRequest"]["properties"]["scopes"]["items"]["enum"] = sorted(SCOPES)
    components["KeyRequest"]["properties"]["scopes"]["description"] = ("Role names: `read`, `ingest`, `admin` (everything), `analyst`, `tracker`, `privacy_officer`, "
                                                              "`browser` (with `user_id`)")
    components["TrainRequest"]["properties"]["params"]["description"] = "Hyper-parameters of the family (default: the registry's)"
    components["TrainRequest"]["properties"]["promote"]["description"] = (
        "`if_better`: serve the new version when it beats the serving one on held-out events")
    return components


_EXPLANATION = _obj({
    "source": _s("The candidate source that contributed most (covisitation, user_model, trending, ...)"),
    "reason": _s("A sentence for the user: why this item"),
    "because_of": {"type": "array", "items": {"type": "string"}, "description": "The user's item ids that led to it"},
    "because": {"type": "array", "description": "The same items with their titles (null when the catalogue has none)",
                "items": _obj({"id": {"type": "string"}, "title": {"type": ["string", "null"]}}, ["id", "title"])},
    "rules": {"type": "array", "description": "Business rules and re-ranking stages that moved the item",
              "items": _obj({"rule": _s("Rule or stage name"), "effect": _s("What it did")})},
}, description="With `explain=true`: why the item was picked")

_ACTIVITY = _obj({
    "event_count": _n("Events seen from this user", "integer"),
    "event_types": _map({"type": "integer"}, "Event count per type"),
    "first_seen": _n("Epoch seconds of the first event"),
    "last_seen": _n("Epoch seconds of the latest event"),
    "recent": {"type": "array", "description": "Latest interactions, newest first", "items": _obj({
        "item_id": {"type": "string"}, "type": {"type": "string"}, "timestamp": {"type": "number"}})},
    "session": _obj({"id": {"type": ["string", "null"]}, "started": {"type": "number"},
                     "items": {"type": "array", "items": {"type": "string"}}}, description="The current session"),
    "purchased": {"type": "array", "items": {"type": "string"}, "description": "Purchased item ids (first 200)"},
    "category_affinity": _map({"type": "number"}, "Top categories and their affinity"),
    "recent_queries": {"type": "array", "items": {"type": "string"}},
    "features": {"type": "object", "additionalProperties": {"type": ["number", "integer", "null"]},
                 "description": "The user's streaming features now (GET /v1/features lists them)"},
    "segments": {"type": "array", "items": {"type": "string"},
                 "description": "Every segment the user is in now: the lifecycle stage (new, active, reactivated, "
                                "at_risk, churned), behaviour (engaged, buyer, cart_abandoner), at_risk_predicted, "
                                "then the rule segments of /v1/segments whose expression holds"},
    "lifecycle": {"type": ["string", "null"], "enum": ["new", "active", "reactivated", "at_risk", "churned", None],
                  "description": "Stage from recency and tenure (thresholds in features.segments)"},
    "rfm": {"anyOf": [_obj({k: {"type": "integer", "minimum": 1, "maximum": 5} for k in ("recency", "frequency", "monetary")}),
                      {"type": "null"}], "description": "Quintile scores against every known user (5: best)"},
    "churn_probability": {"type": ["number", "null"], "minimum": 0, "maximum": 1,
                          "description": "BG/NBD: probability of no activity in the next 30 days (null until fitted)"},
    "clv": {"type": ["number", "null"], "description": "Expected revenue in the next 90 days (BG/NBD x Gamma-Gamma; "
                                                      "null while too few repeat buyers)"},
}, description="What the engine knows right now (null before the user's first event)")

_MODEL_VERSION = _obj({
    "version": _n("Version number", "integer"), "family": _s("Model family"),
    "params": {"type": "object", "description": "The hyper-parameters it was fitted with"},
    "created_at": _n("Epoch seconds"), "data_from_seq": _n("First event log position it saw", "integer"),
    "data_to_seq": _n("Last event log position it saw", "integer"), "n_events": _n("Events fitted on", "integer"),
    "metrics": {"type": "object", "description": "Offline evaluation on held-out events (ndcg@10, recall@10, ...)"},
    "artifact": _s("Content-addressed artifact name"),
    "status": _s("Lifecycle state", enum=["candidate", "serving", "retired"]),
    "promoted_at": {"type": ["number", "null"], "description": "When it last started serving"},
}, ["version", "family", "status"])

_TRAIN_JOB = _obj({
    "id": _s("Opaque job id (`GET /v1/models/train/jobs/{id}`)"),
    "status": _s("`queued` (waiting for the server's training worker), `running`, `succeeded` or `failed`",
                 enum=["queued", "running", "succeeded", "failed"]),
    "stage": {"type": ["string", "null"], "description": "The current (or last) stage: snapshot, interactions, "
                                                         "evaluate, fit, register (null before the first)"},
    "stage_number": _n("The stage's number, from 1 (0 before the first)", "integer", minimum=0),
    "stages": _n("How many stages the run goes through", "integer", minimum=1),
    "message": _s("What the stage is doing (a member fit, a metric)"),
    "progress": _n("Completed stages / stages, 0..1; never decreases (1 on success)", minimum=0, maximum=1),
    "created_at": _n("Epoch seconds: posted"),
    "started_at": {"type": ["number", "null"], "description": "Epoch seconds: the worker took it"},
    "finished_at": {"type": ["number", "null"], "description": "Epoch seconds: it ended"},
    "request": _obj({"family": {"type": "string"}, "params": {"type": "object"},
                     "promote": {"type": "string", "enum": ["if_better", "always", "never"]}},
                    ["family", "params", "promote"], "What was asked"),
    "result": {"anyOf": [ref("TrainResult"), {"type": "null"}], "description": "On success: the registered version"},
    "error": {"anyOf": [_obj({"title": _s("Short summary"), "detail": _s("What went wrong")}, ["title", "detail"]),
                        {"type": "null"}], "description": "On failure: why"},
}, ["id", "status", "stage", "stage_number", "stages", "message", "progress", "created_at", "started_at", "finished_at",
    "request", "result", "error"], "A training run: `POST /v1/models/train` creates it, a worker runs it")

_KEY = _obj({
    "key_id": _s("Public key id (the token is `tm_<key_id>_<secret>`)"), "name": _s("Label"),
    "scopes": {"type": "array", "items": {"type": "string", "enum": sorted(SCOPES)}},
    "created_at": _n("Epoch seconds"), "revoked": {"type": "boolean"},
}, ["key_id", "name", "scopes", "created_at", "revoked"])

_PLACEMENT_CONFIG = _obj({
    "description": {"type": "string"}, "n": {"type": "integer", "minimum": 1, "maximum": MAX_N, "description": "Default list length"},
    "sources": _map({"oneOf": [
        {"type": "number", "minimum": 0, "description": "weight"},
        _obj({"weight": {"type": "number"}, "n": {"type": "integer"}})]},
        "Candidate source → weight (or {weight, n}): covisitation, seed_covisitation, session_covisitation, "
        "category_affinity, user_model, trending, context_popular, ..."),
    "ranker": {"type": "string", "enum": ["blend", "ltr"]},
    "diversity": _obj({"lambda": {"type": "number"}, "by": {"type": "string", "enum": ["categories", "embeddings"]},
                       "calibration": {"type": "number"}, "method": {"type": "string", "enum": ["mmr", "mmr-sum", "swap"]}}),
    "fairness": _obj({"popularity_penalty": {"type": "number"}, "min_exposure": {"type": "object"}}),
    "rules": {"type": "array", "items": {"type": "object"}, "description": "Filters, boosts, pins and caps"},
    "promotions": {"type": "array", "items": {"type": "object"}},
    "overrides": {"type": "array", "items": {"type": "string"}, "description": "What a request may change with `override.KEY`"},
    "seen_penalty": {"type": "number"}, "include_purchased": {"type": "boolean"}, "exclude_seen": {"type": "boolean"},
    "log_impressions": {"type": "boolean"},
    "bandit": _obj({
        "policy": {"type": "string", "enum": ["thompson", "ucb1", "epsilon_greedy", "linucb", "linear_thompson"]},
        "arms": _map({"type": ["object", "null"]}, "Strategies: name → override of the placement (blend, ranker, rules, diversity)"),
        "items": {"type": "array", "items": {"type": "string"}, "description": "Or item ids: one takes position `slot`"},
        "slot": {"type": "integer", "minimum": 1}, "rewards": _map({"type": "number"}, "Event type → reward"),
        "features": {"type": "array", "items": {"type": "string"}, "description": "linucb / linear_thompson: numeric context keys"},
        "params": {"type": "object", "description": "The policy's parameters (epsilon, alpha, n_draws, ...)"},
    }, ["policy"], "The placement (or a slot of it) as a bandit that learns from outcomes", closed=True),
}, ["sources"], "One placement, in the format of the placement file")

_PLACEMENT = _obj({
    "name": {"type": "string"}, "description": {"type": "string"}, "n": {"type": "integer"},
    "sources": _map(_obj({"weight": {"type": "number"}, "n": {"type": ["integer", "null"]}}), "Source → weight and depth"),
    "ranker": {"type": "string", "enum": ["blend", "ltr"]}, "diversity": {"type": ["object", "null"]},
    "fairness": {"type": ["object", "null"]},
    "rules": _obj({"filters": {"type": "array", "items": {"type": "string"}}, "boosts": {"type": "array", "items": {"type": "string"}},
                   "pins": {"type": "array", "items": {"type": "object"}}, "caps": {"type": "array", "items": {"type": "string"}},
                   "margin": {"type": ["number", "null"]}}),
    "overrides": {"type": "array", "items": {"type": "string"}}, "seen_penalty": {"type": "number"},
    "include_purchased": {"type": "boolean"}, "exclude_seen": {"type": "boolean"}, "log_impressions": {"type": "boolean"},
    "origin": {"type": "string", "enum": ["built-in", "configured"]},
    "config": {"type": ["object", "null"], "description": "The configuration document (null for a built-in placement)"},
}, ["name", "sources", "ranker", "origin"], "A placement in force: its effective settings")


def component_schemas() -> dict[str, Any]:
    """Every schema of ``components/schemas``, keyed by name."""
    components = _record_schemas()
    user = components["User"]
    components.update({
        "Problem": _obj({
            "type": _s("A URI naming the problem type (`about:blank`: see title and status)"),
            "title": _s("Short summary"), "status": _n("The HTTP status code", "integer"),
            "detail": _s("What went wrong, in a sentence"),
            "field": _s("JSON pointer (bodies) or parameter name of the first offending field"),
            "errors": {"type": "array", "description": "Every offending field", "items": _obj(
                {"field": {"type": "string"}, "reason": {"type": "string"}}, ["field", "reason"])},
        }, ["type", "title", "status"], "An RFC 9457 problem document (`application/problem+json`)"),
        "IngestResult": _obj({"accepted": _n("Events new to the log", "integer"),
                              "duplicates": _n("Events whose id was already logged (ignored)", "integer")},
                             ["accepted", "duplicates"]),
        "UpsertResult": _obj({"upserted": _n("Records written", "integer"), "version": _n("Store version after the write", "integer")},
                             ["upserted", "version"]),
        "Explanation": _EXPLANATION,
        "WriteAck": _obj({"id": {"type": "string"}, "written": {"type": "boolean", "const": True}}, ["id", "written"],
                         "The answer to a write-only key: the write held (the stored document is for keys that may read it)",
                         closed=True),
        "RecommendedItem": _obj({"id": _s("Item id"), "score": _n("Blended score (higher is better)"),
                                 "source": _s("The candidate source that contributed most"),
                                 "explanation": ref("Explanation"),
                                 "item": {"type": "object", "description": "With `fields=`: the requested catalogue fields "
                                                                           "of the item (each present, null when unset)"}},
                                ["id", "score", "source"]),
        "Recommendations": _obj({
            "recommendation_id": _s("Echo it as `recommendation_id` in the events this list leads to"),
            "placement": {"type": "string"}, "model_version": _s("The trained model version that served (or `none`)"),
            "items": {"type": "array", "items": ref("RecommendedItem")},
            "experiments": {"type": "array", "items": ref("ExperimentExposure"),
                            "description": "The experiments the user is in here (absent when none): variant and propensity; "
                                           "a bandit placement adds `bandit:<placement>` with its arm"},
            "bandit": _obj({"placement": {"type": "string"}, "policy": {"type": "string"}, "arm": _s("The arm served"),
                            "propensity": _n("The probability the policy had of choosing it")},
                           ["placement", "policy", "arm", "propensity"], "A bandit placement's choice (absent otherwise)"),
            "rules_dropped": {"type": "array", "description": "With `explain=true`: pinned items a filter excluded",
                              "items": _obj({"id": {"type": "string"}, "rule": {"type": "string"}, "effect": {"type": "string"}})},
            "action": _obj({"name": {"type": "string"},
                            "kind": {"type": "string", "enum": ["recommend", "offer", "message", "nothing"]},
                            "expected_value": _n("p * value - cost for this user"),
                            "payload": {"type": "object", "description": "The action's payload as configured"}},
                           ["name", "kind", "expected_value", "payload"],
                           "A next-best-action placement's choice (absent otherwise): the allowed action of highest "
                           "expected value; `items` holds the list only for `recommend`"),
            "actions": {"type": "array", "description": "Next best action with `explain=true`: every action's "
                                                        "expected value and what blocked it (when, margin_floor, "
                                                        "max_offers_per_day, max_messages_per_day; null: allowed)",
                        "items": _obj({"name": {"type": "string"}, "kind": {"type": "string"},
                                       "expected_value": {"type": "number"},
                                       "blocked_by": {"type": ["string", "null"]}})},
        }, ["recommendation_id", "placement", "items", "model_version"]),
        "SimilarItems": _obj({"item_id": {"type": "string"}, "items": {"type": "array", "items": ref("RecommendedItem")}},
                             ["item_id", "items"]),
        "UserProfile": _obj({**user["properties"], "activity": {"anyOf": [ref("Activity"), {"type": "null"}]}},
                            ["id", "traits", "consent", "activity"],
                            "The stored user (id, traits, consent) and its live activity", closed=True),
        "Activity": _ACTIVITY,
        "UserExport": _USER_EXPORT,
        "EventSchemaList": _obj({"schemas": {"type": "array", "items": ref("EventSchema")}}, ["schemas"]),
        "EventSchemaVersions": _obj({"type": {"type": "string"}, "versions": {"type": "array", "items": ref("EventSchema")}},
                                    ["type", "versions"]),
        "ApiKey": _KEY,
        "NewApiKey": {"allOf": [ref("ApiKey"), _obj({"token": _s("The bearer token: shown once, store it now")}, ["token"])]},
        "ApiKeyList": _obj({"keys": {"type": "array", "items": ref("ApiKey")}}, ["keys"]),
        "ModelVersion": _MODEL_VERSION,
        "ModelList": _obj({"serving": {"type": ["integer", "null"], "description": "The version that serves (null: none yet)"},
                           "versions": {"type": "array", "items": ref("ModelVersion")}}, ["serving", "versions"]),
        "TrainResult": _obj({"version": ref("ModelVersion"), "promoted": {"type": "boolean"},
                             "compared_with": {"type": ["integer", "null"], "description": "The serving version it was judged against"},
                             "seconds": _n("Training time"),
                             "out_of_range_values": _n("Rating values off the rating scale, clipped or ignored", "integer")},
                            ["version", "promoted", "seconds"]),
        "TrainJob": _TRAIN_JOB,
        "TrainJobList": _obj({"jobs": {"type": "array", "items": ref("TrainJob")}}, ["jobs"]),
        "PlacementConfig": _PLACEMENT_CONFIG,
        "Placement": _PLACEMENT,
        "PlacementList": _obj({"placements": {"type": "array", "items": ref("Placement")}}, ["placements"]),
        "AuditRecord": _AUDIT_RECORD,
        "AuditPage": _obj({"records": {"type": "array", "items": ref("AuditRecord")},
                           "next_cursor": {"type": ["string", "null"], "description": "Pass as `cursor` for the next page; "
                                                                                     "null: no more records"}},
                          ["records", "next_cursor"]),
        "Health": _obj({"status": {"type": "string", "enum": ["ok"]}}, ["status"]),
        "Readiness": _obj({"status": _s("`ready`, `starting`, `unavailable` or `storage_full`"), "detail": {"type": "string"},
                           "applied_seq": {"type": "integer"}, "log_seq": {"type": "integer"},
                           "items": {"type": "integer"}, "users": {"type": "integer"}}, ["status"]),
    })
    return components
