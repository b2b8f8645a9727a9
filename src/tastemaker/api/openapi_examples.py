"""Example requests and responses for the OpenAPI document (and so for ``/docs``).

One small, consistent story runs through them: a shop with items ``sku-1042`` ...,
a user ``u-1842``. tests/api/test_openapi.py validates every example against the schema it
illustrates, so an example cannot quietly go stale when a schema changes.
"""

from __future__ import annotations

import json
from typing import Any

from tastemaker.api.responses import problem
from tastemaker.schema.errors import FieldError

NOW = 1_767_261_600.0  # 2026-01-01T10:00:00Z: every example happens at the same time

VIEW = {"id": "evt-7f3a9c", "type": "view", "user_id": "u-1842", "item_id": "sku-1042",
        "session_id": "s-91b2", "timestamp": "2026-01-01T10:00:00Z", "context": {"device": "mobile"}}
EVENT_BATCH = [
    VIEW,
    {"id": "evt-7f3a9d", "type": "add_to_cart", "user_id": "u-1842", "item_id": "sku-1042",
     "recommendation_id": "rec-5d1e0b7c"},
    {"id": "evt-7f3a9e", "type": "purchase", "user_id": "u-1842", "item_ids": ["sku-1042", "sku-2210"], "value": 59.8},
    {"id": "evt-7f3a9f", "type": "search", "user_id": "u-1842", "query": "trail running shoes"},
    {"id": "evt-7f3aa0", "type": "rating", "user_id": "u-1842", "item_id": "sku-2210", "value": 4},
]
ITEM = {"id": "sku-1042", "title": "Trail running shoe", "description": "Light, grippy, for wet trails.",
        "categories": ["shoes", "running"], "brand": "Northpeak", "price": 89.9, "stock": 14,
        "tags": ["waterproof"], "created_at": "2025-11-20T00:00:00Z", "properties": {"color": "blue"}}
ITEMS = [ITEM, {"id": "sku-2210", "title": "Merino running socks", "categories": ["socks", "running"],
                "brand": "Northpeak", "price": 14.5, "stock": 120}]
USER = {"id": "u-1842", "traits": {"country": "DE", "plan": "member"}, "consent": {"personalization": True}}
ACTIVITY = {
    "event_count": 5, "event_types": {"view": 1, "add_to_cart": 1, "purchase": 1, "search": 1, "rating": 1},
    "first_seen": NOW, "last_seen": NOW + 240,
    "recent": [{"item_id": "sku-2210", "type": "rating", "timestamp": NOW + 240},
               {"item_id": "sku-1042", "type": "view", "timestamp": NOW}],
    "session": {"id": "s-91b2", "started": NOW, "items": ["sku-1042"]},
    "purchased": ["sku-1042", "sku-2210"], "category_affinity": {"running": 2.1, "shoes": 1.2},
    "recent_queries": ["trail running shoes"], "segments": ["active", "buyer", "running-fans"],
    "lifecycle": "active", "rfm": {"recency": 5, "frequency": 2, "monetary": 4}, "churn_probability": 0.1834,
    "clv": 212.5,
}
RECOMMENDED = [
    {"id": "sku-3301", "score": 0.93, "source": "covisitation",
     "explanation": {"source": "covisitation", "reason": "Because you recently interacted with “Trail running shoe”",
                     "because_of": ["sku-1042"], "because": [{"id": "sku-1042", "title": "Trail running shoe"}]},
     "item": {"title": "Trail gaiters", "price": 24.0}},
    {"id": "sku-0877", "score": 0.71, "source": "category_affinity",
     "explanation": {"source": "category_affinity", "reason": "Because you like running"},
     "item": {"title": "Running cap", "price": 19.5}},
]
EVENT_SCHEMA = {"type": "wishlist", "version": 1, "requires": ["item"], "properties": {"list": {"type": "string"}},
                "description": "An item added to a wish list"}
KEY = {"key_id": "k3h9x2", "name": "storefront", "scopes": ["ingest", "read"], "created_at": NOW, "revoked": False}
MODEL = {"version": 3, "family": "hybrid", "params": {}, "created_at": NOW, "data_from_seq": 1, "data_to_seq": 100000,
         "n_events": 100000, "metrics": {"ndcg@10": 0.41, "recall@10": 0.23}, "artifact": "a91f0c2e.pkl",
         "status": "serving", "promoted_at": NOW}
TRAIN_QUEUED = {"id": "019b7a3c5e00-9f2c41d7", "status": "queued", "stage": None, "stage_number": 0, "stages": 5,
                "message": "", "progress": 0.0, "created_at": NOW, "started_at": None, "finished_at": None,
                "request": {"family": "hybrid", "params": {}, "promote": "if_better"}, "result": None, "error": None}
TRAIN_RUNNING = {**TRAIN_QUEUED, "status": "running", "stage": "evaluate", "stage_number": 3, "message": "ease: fit",
                 "progress": 0.4, "started_at": NOW + 0.2}
TRAIN_DONE = {**TRAIN_QUEUED, "id": "019b7a2f1b40-3c8e0a55", "status": "succeeded", "stage": "register", "stage_number": 5,
              "message": "v4 (candidate)", "progress": 1.0, "created_at": NOW - 900, "started_at": NOW - 899.8,
              "finished_at": NOW - 885.6,
              "result": {"version": {**MODEL, "version": 4, "status": "candidate", "promoted_at": None},
                         "promoted": False, "compared_with": 3, "seconds": 14.2, "out_of_range_values": 0}}
PLACEMENT_CONFIG = {"description": "Below the basket: complements, a little variety", "n": 8,
                    "sources": {"seed_covisitation": 2.0, "session_covisitation": 1.0, "trending": 0.2},
                    "diversity": {"lambda": 0.3, "by": "categories"}, "overrides": ["n"]}
PLACEMENT = {"name": "basket", "description": PLACEMENT_CONFIG["description"], "n": 8,
             "sources": {"seed_covisitation": {"weight": 2.0, "n": None}, "session_covisitation": {"weight": 1.0, "n": None},
                         "trending": {"weight": 0.2, "n": None}},
             "ranker": "blend", "diversity": {"lambda": 0.3, "by": "categories", "calibration": 0.0, "method": "mmr"},
             "fairness": None, "rules": {"filters": [], "boosts": [], "pins": [], "caps": [], "margin": None},
             "overrides": ["n"], "seen_penalty": 0.5, "include_purchased": False, "exclude_seen": False,
             "log_impressions": False, "origin": "configured", "config": PLACEMENT_CONFIG}

# Request bodies by operation ("METHOD path"): name -> (summary, value)
REQUESTS: dict[str, dict[str, tuple[str, Any]]] = {
    "POST /v1/events": {"one": ("One event", VIEW), "batch": ("A batch (up to 10,000; all or nothing)", EVENT_BATCH)},
    "POST /v1/items": {"batch": ("A batch of items", ITEMS), "one": ("One item", ITEM)},
    "PUT /v1/items/{id}": {"item": ("The whole item", ITEM)},
    "PATCH /v1/items/{id}": {"patch": ("Change the price, remove the tags", {"price": 79.9, "tags": None})},
    "POST /v1/users": {"one": ("One user", USER)},
    "PUT /v1/users/{id}": {"user": ("The whole user", USER)},
    "PATCH /v1/users/{id}": {"patch": ("Change one trait", {"traits": {"plan": "premium"}})},
    "POST /v1/event-schemas": {"custom": ("A custom event type", EVENT_SCHEMA)},
    "POST /v1/keys": {"storefront": ("A key for a web shop", {"name": "storefront", "scopes": ["ingest", "read"]})},
    "POST /v1/models/train": {"popularity": ("A quick baseline", {"family": "popularity", "promote": "if_better"}),
                              "default": ("The default hybrid, served if better", {})},
    "PUT /v1/placements/{name}": {"basket": ("A basket placement", PLACEMENT_CONFIG)},
}

# Successful responses by operation: status -> value
RESPONSES: dict[str, dict[str, Any]] = {
    "POST /v1/events": {"200": {"accepted": 5, "duplicates": 0}},
    "GET /v1/recommendations": {"200": {"recommendation_id": "rec-5d1e0b7c", "placement": "home",
                                        "model_version": "3", "items": RECOMMENDED}},
    "GET /v1/items/{id}/similar": {"200": {"item_id": "sku-1042", "items": [{k: v for k, v in i.items() if k not in ("explanation", "item")}
                                                                           for i in RECOMMENDED]}},
    "POST /v1/items": {"200": {"upserted": 2, "version": 7}},
    "GET /v1/items/{id}": {"200": ITEM}, "PUT /v1/items/{id}": {"200": ITEM},
    "PATCH /v1/items/{id}": {"200": {**{k: v for k, v in ITEM.items() if k != "tags"}, "price": 79.9}},
    "POST /v1/users": {"200": {"upserted": 1, "version": 3}},
    "GET /v1/users/{id}": {"200": {**USER, "activity": ACTIVITY}}, "PUT /v1/users/{id}": {"200": USER},
    "GET /v1/users/{id}/export": {"200": {
        "format": "tastemaker.user-export/1", "user_id": "u-1842", "exported_at": NOW, "profile": USER,
        "consent_in_effect": {"personalization": True, "training": True, "analytics": True, "default": "allowed"},
        "online_state": ACTIVITY, "keys": [], "audit": [], "impressions": [],
        "events": [{"seq": 17, "id": "evt-0001", "type": "view", "user_id": "u-1842", "session_id": "s-77",
                    "item_id": "sku-1042", "item_ids": None, "value": None, "query": None,
                    "context": {"device": "mobile"}, "timestamp": NOW, "recommendation_id": None, "properties": None,
                    "schema_version": None}],
        "counts": {"events": 1, "impressions": 0, "audit": 0}}},
    "PATCH /v1/users/{id}": {"200": {**USER, "traits": {"country": "DE", "plan": "premium"}}},
    "GET /v1/event-schemas": {"200": {"schemas": [{"type": "view", "version": 1, "requires": ["item"],
                                                   "description": "built-in view event"}, EVENT_SCHEMA]}},
    "POST /v1/event-schemas": {"201": EVENT_SCHEMA},
    "GET /v1/event-schemas/{type}": {"200": {"type": "wishlist", "versions": [EVENT_SCHEMA]}},
    "GET /v1/keys": {"200": {"keys": [KEY]}},
    "POST /v1/keys": {"201": {**KEY, "token": "tm_k3h9x2_Qm9yZ2V0LW1lLW5vdC1hLXJlYWwta2V5"}},
    "GET /v1/models": {"200": {"serving": 3, "versions": [MODEL]}},
    "POST /v1/models/train": {"202": TRAIN_QUEUED},
    "GET /v1/models/train/jobs": {"200": {"jobs": [TRAIN_RUNNING, TRAIN_DONE]}},
    "GET /v1/models/train/jobs/{id}": {"200": TRAIN_RUNNING},
    "POST /v1/models/rollback": {"200": {**MODEL, "version": 2}},
    "POST /v1/models/{version}/promote": {"200": MODEL},
    "GET /v1/placements": {"200": {"placements": [PLACEMENT]}},
    "GET /v1/placements/{name}": {"200": PLACEMENT},
    "PUT /v1/placements/{name}": {"200": PLACEMENT, "201": PLACEMENT},
    "GET /v1/audit": {"200": {"records": [
        {"seq": 42, "ts": NOW, "actor": "k3h9x2", "action": "keys.create", "target": "k7q2m1",
         "summary": {"name": "storefront", "scopes": ["ingest", "read"]}, "address": "10.0.4.17",
         "prev_hash": "9f2c" + "0" * 60, "hash": "3b1d" + "0" * 60}], "next_cursor": "42"}},
    "GET /healthz": {"200": {"status": "ok"}},
    "GET /readyz": {"200": {"status": "ready", "applied_seq": 100000, "log_seq": 100000, "items": 1682, "users": 943},
                    "503": {"status": "storage_full", "detail": "writes fail for lack of space (No space left on device); "
                                                 "ready again once a probe write succeeds"}},
}


def problem_example(status: int, title: str, field: str | None = None, reason: str | None = None,
                    detail: str | None = None) -> dict[str, Any]:
    """The body the server sends for this problem: made by the server's own ``problem()``."""
    errors = [FieldError(field, reason)] if field is not None and reason is not None else None
    return json.loads(problem(status, title, detail, errors=errors).body)
