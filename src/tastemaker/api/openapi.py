"""The OpenAPI 3.1 document: every operation, with request and response examples.

Component schemas come from :mod:`tastemaker.api.openapi_schemas` (records generated from the
msgspec structs that validate requests); examples from :mod:`tastemaker.api.openapi_examples`.
Every documented status carries an example, problems included, so ``/docs`` can show what
an answer looks like; tests validate each example against its schema, and a schemathesis run
checks that the real app answers as documented.
"""

from __future__ import annotations

from typing import Any

from tastemaker import __version__
from tastemaker.api.openapi_auth import add_auth_paths, auth_schemas, policy, security_schemes
from tastemaker.api.openapi_examples import REQUESTS, RESPONSES, problem_example
from tastemaker.api.openapi_experiment_results import add_results_paths, results_schemas
from tastemaker.api.openapi_experiments import add_experiment_paths, experiment_schemas
from tastemaker.api.openapi_segments import add_segment_paths, segment_schemas
from tastemaker.api.openapi_features import add_feature_paths, feature_schemas
from tastemaker.api.openapi_schemas import component_schemas, ref
from tastemaker.api.openapi_read_after import add_read_after
from tastemaker.api.openapi_privacy import add_privacy_paths, privacy_schemas
from tastemaker.api.openapi_quarantine import add_quarantine_paths, quarantine_schemas
from tastemaker.serving.request import MAX_N
from tastemaker.training.train_jobs import ID_RULE, LIST_LIMIT

PROBLEM = "application/problem+json"
TAGS = [
    ("Events", "What users do: the input of every recommendation"),
    ("Recommendations", "The read path: lists for a user and placement, similar items"),
    ("Items", "The catalogue"), ("Users", "Profiles: traits, consent, and what the engine knows"),
    ("Event schemas", "Built-in and custom event types, versioned"), ("Placements", "Where lists appear and how they are made"),
    ("Models", "Training, evaluation, promotion, rollback"), ("Keys", "API keys and their scopes"),
    ("Experiments", "A/B/n tests on placements and model canaries: variants, traffic shares, status"),
    ("Segments", "Rule segments: expressions over a user's activity, traits, features and predictions"),
    ("Features", "Streaming features: windowed counts, rates, ratios and trends per user, item and category"),
    ("Audit", "Who did which admin action when, from where: append-only and hash-chained"),
    ("Quarantine", "Events held as a bot's or a shilling attack's, and the operators' decisions on them"),
    ("Operations", "Health, readiness, metrics, this documentation"),
]

# (status, description, title, field, reason) -> a problem response with the server's own body as example
Problem = tuple[str, str, str, str | None, str | None]
MALFORMED: Problem = ("400", "Malformed JSON", "Malformed JSON", "",
                      "malformed JSON at line 1, column 9 (byte 8): trailing comma, near `{\"id\": 1,}`")
MALFORMED_OR_DEEP: Problem = ("400", "Malformed JSON, or nested too deep", *MALFORMED[2:])
TOO_LARGE: Problem = ("413", "Body too large (checked before decoding)", "Body too large", "",
                      "request body exceeds 16777216 bytes (16 MiB); send smaller batches")


def _problem(description: str, status: str, title: str, field: str | None = None, reason: str | None = None,
             detail: str | None = None) -> dict[str, Any]:
    example = problem_example(int(status), title, field, reason, detail)
    return {"description": description, "content": {PROBLEM: {"schema": ref("Problem"), "example": example}}}


def _json(schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def _op(key: str, tag: str, summary: str, scope: str | None, ok: dict[str, tuple[str, dict[str, Any]]],
        problems: list[Problem] = (), body: dict[str, Any] | None = None, body_required: bool = True,
        parameters: list[dict[str, Any]] | None = None, description: str = "") -> dict[str, Any]:
    """One operation. ``key`` is "METHOD path", which finds its examples; ``scope`` is None for a
    public operation, else its rate-limit bucket (its permission and roles come from api.auth,
    see openapi_auth.policy); ``ok`` maps each success status to (description, schema);
    ``problems`` lists the documented errors."""
    responses: dict[str, Any] = {}
    for status, (text, schema) in ok.items():
        if not schema:
            responses[status] = {"description": text}
        elif schema.get("type") == "string":  # text/plain or text/html
            media = "text/html" if key.endswith("/docs") else "text/plain; version=0.0.4"
            responses[status] = {"description": text, "content": {media: {"schema": schema}}}
        else:
            responses[status] = _json(schema, text, RESPONSES.get(key, {}).get(status))
    for status, text, title, field, reason in problems:
        responses[status] = _problem(text, status, title, field, reason)
    responses["429"] = {"$ref": "#/components/responses/TooManyRequests"}  # every route is rate limited
    op: dict[str, Any] = {"tags": [tag], "summary": summary, "operationId": _operation_id(key)}
    if scope is None:
        op["security"] = []
    else:
        fields = policy(key, scope)  # x-required-permission, x-roles, security
        description = (description + "\n\n" + fields.pop("description")).strip()
        op.update(fields)
        responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
        responses["403"] = {"$ref": "#/components/responses/Forbidden"}
        if not key.startswith("GET "):  # any write may find the disk full
            responses["507"] = {"$ref": "#/components/responses/InsufficientStorage"}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        examples = {name: {"summary": s, "value": v} for name, (s, v) in REQUESTS.get(key, {}).items()}
        media = {"schema": body, **({"examples": examples} if examples else {})}
        op["requestBody"] = {"required": body_required, "content": {"application/json": media}}
    op["responses"] = responses
    return op


def _accepted_with_location(op: dict[str, Any]) -> dict[str, Any]:
    """``op``'s 202 response with the ``Location`` header it carries."""
    op["responses"]["202"]["headers"] = {"Location": {"description": "The URL of the new job", "schema": {"type": "string"}}}
    return op


def _operation_id(key: str) -> str:
    method, path = key.split(" ", 1)
    words = [w.strip("{}").replace("-", "_").replace(".", "_") for w in path.split("/") if w and w != "v1"]
    return method.lower() + "_" + "_".join(words)


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False, example: Any = None) -> dict[str, Any]:
    out = {"name": name, "in": "query", "required": required, "description": description, "schema": schema}
    if example is not None:
        out["example"] = example
    return out


def _path(name: str, description: str, example: Any, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string", "minLength": 1}, "example": example}


FIELDS = _query("fields", "Comma-separated catalogue fields to add to each entry as `item` (title, price, categories, "
                 "..., `properties`, `properties.NAME`); unset fields are null", {"type": "string"}, example="title,price")


def _one_or_batch(name: str) -> dict[str, Any]:
    return {"oneOf": [ref(name), {"type": "array", "items": ref(name), "minItems": 1, "maxItems": 10000}]}


def _recommendation_params() -> list[dict[str, Any]]:
    n = {"type": "integer", "minimum": 1, "maximum": MAX_N, "default": 10}
    return [
        _query("user_id", "The user (or anonymous session) to recommend for", {"type": "string", "minLength": 1}, True, "u-1842"),
        _query("placement", "Placement name: `home`, `product-page`, `cart`, `email` or a configured one",
               {"type": "string", "default": "home"}, example="home"),
        _query("n", "How many items", n, example=10),
        _query("exclude", "Comma-separated item ids never to return (at most 1,000)", {"type": "string"}, example="sku-1042,sku-2210"),
        _query("category", "Only items of this category", {"type": "string"}),
        _query("brand", "Only items of this brand", {"type": "string"}),
        _query("item_id", "The item on screen (product page, cart): seeds co-visitation", {"type": "string"}),
        _query("explain", "Add an explanation to each item", {"type": "boolean", "default": False}),
        FIELDS,
        _query("include_purchased", "Allow purchased, rated and disliked items", {"type": "boolean", "default": False}),
        *[_query(c, f"Request context: {c} (for context-aware sources and rules)", {"type": "string"})
          for c in ("channel", "device", "locale", "geo", "referrer", "user_agent")],
        _query("timezone", "Request context: the user's IANA time zone (`Europe/Berlin`); else the country's (geo, locale) "
               "gives rules `context.local_time`, `hour`, `day_of_week`, `is_holiday`", {"type": "string"}),
        _query("region", "Request context: a subdivision code (`BY`, `CA`) for regional public holidays", {"type": "string"}),
        {"name": "override", "in": "query", "style": "form", "explode": True,
         "schema": {"type": "object", "additionalProperties": {"type": "string"}},
         "description": "Per-request changes the placement allows, as `override.KEY=VALUE`: `override.n`, "
                        "`override.diversity`, `override.calibration`, `override.margin`, `override.popularity_penalty` "
                        "(0..1), `override.price` (MIN..MAX), `override.disable` (rule names), `override.ranker` "
                        "(`blend` | `ltr`). A key the placement does not allow is a 400 naming `override.KEY`."},
    ]


def _document_paths(name: str, record: str, example_id: str) -> dict[str, Any]:
    """``/v1/items`` and ``/v1/users``: both behave alike."""
    tag, one = name.capitalize(), name[:-1]
    unknown: Problem = ("404", "Not found", f"Unknown {one}", "id", f"no {one} '{example_id}-x'")
    invalid: Problem = ("422", "Invalid record; nothing was written", "Invalid request body",
                        "/price" if name == "items" else "/consent/personalization",
                        "Expected `number`, got `str`" if name == "items" else "Expected `bool`, got `str`")
    merge = {"type": "object", "description": "An RFC 7386 JSON merge patch: `null` removes a field"}
    written = {"oneOf": [ref(record), ref("WriteAck")]}
    answer = (f"Answers the stored {one} to a key that may read it (`read` or `admin`); "
              "a write-only key gets `{\"id\", \"written\": true}`.")
    base, item = f"/v1/{name}", f"/v1/{name}/{{id}}"
    return {
        base: {"post": _op(f"POST {base}", tag, f"Upsert one or many {name}", "ingest",
                           {"200": ("Written", ref("UpsertResult"))}, [MALFORMED_OR_DEEP, TOO_LARGE, invalid],
                           body=_one_or_batch(record))},
        item: {
            "parameters": [_path("id", f"The {one} id", example_id)],
            "get": _op(f"GET {item}", tag, f"Get one {one}", "read",
                       {"200": ("Found", ref("UserProfile" if name == "users" else record))}, [unknown]),
            "put": _op(f"PUT {item}", tag, f"Create or replace one {one}", "ingest", {"200": ("Written", written)},
                       [MALFORMED_OR_DEEP, TOO_LARGE, invalid], body=ref(record), description=answer),
            "patch": _op(f"PATCH {item}", tag, f"Merge-patch one {one} (RFC 7386)", "ingest", {"200": ("Patched", written)},
                         [MALFORMED_OR_DEEP, unknown, TOO_LARGE, invalid], body=merge, description=answer),
            "delete": _op(f"DELETE {item}", tag, f"Delete one {one}", "ingest", {"204": ("Deleted", {})}, [unknown]),
        },
    }


def _paths() -> dict[str, Any]:
    bad_param: Problem = ("400", "Invalid or unknown parameter", "Invalid request", "userid",
                          "unknown parameter: did you mean 'user_id'? Known parameters: user_id, placement, n, ...")
    bad_name: Problem = ("400", "Invalid placement name", "Invalid placement name", "name",
                         "a placement name is 1-64 of a-z, 0-9, '-', '_'")
    name_param = _path("name", "Placement name", "basket", {"type": "string", "minLength": 1})
    return {
        "/v1/events": {"post": _op(
            "POST /v1/events", "Events", "Record events (one or up to 10,000)", "ingest",
            {"200": ("Durable and applied: the next request sees them", ref("IngestResult"))},
            [MALFORMED_OR_DEEP, TOO_LARGE, ("422", "Invalid event; nothing of the batch was written", "Invalid request body",
                                    "/1/type", "unknown event type 'veiw' (did you mean 'view'?)")],
            body=_one_or_batch("Event"),
            description="An event's `id` makes it idempotent: sending it again is counted as a duplicate, not twice. "
                        "A batch is all or nothing.")},
        "/v1/recommendations": {"get": _op(
            "GET /v1/recommendations", "Recommendations", "Recommendations for a user and placement", "read",
            {"200": ("The list (the example: with `explain=true&fields=title,price`)", ref("Recommendations"))},
            [bad_param, ("404", "Unknown placement", "Unknown placement", "placement", "no placement 'homepage'")],
            parameters=_recommendation_params(),
            description="A placement with a `next_best_action:` section chooses an action instead (recommend, offer, "
                        "message or nothing: the allowed one of highest expected value `p * value - cost` for this "
                        "user, under its constraints max_offers_per_day, max_messages_per_day and margin_floor): "
                        "the response carries `action`, and `items` only when the action is `recommend`.")},
        "/v1/items/{id}/similar": {"get": _op(
            "GET /v1/items/{id}/similar", "Recommendations", "Items similar to an item", "read",
            {"200": ("Similar items, most similar first", ref("SimilarItems"))},
            [bad_param, ("404", "Unknown item", "Unknown item", "id", "no item 'sku-0000'")],
            parameters=[_path("id", "The item id", "sku-1042"),
                        _query("n", "How many items", {"type": "integer", "minimum": 1, "maximum": MAX_N, "default": 10}),
                        FIELDS])},
        **_document_paths("items", "Item", "sku-1042"),
        **_document_paths("users", "User", "u-1842"),
        "/v1/users/{id}/export": {"get": _op(
            "GET /v1/users/{id}/export", "Users", "Everything held about a person (data portability)", "admin",
            {"200": ("One JSON bundle, streamed: profile, consent in effect, online state, audit records, impressions, "
                     "every logged event (all fields), counts", ref("UserExport"))},
            [("404", "Nothing is held about this user", "Unknown user", "id", "no user 'u-1842-x'")],
            parameters=[_path("id", "The user id", "u-1842")],
            description="For GDPR access and portability requests. Events come from the log (API rows and bulk "
                        "imports), read and sent a page at a time. The export is recorded in the audit log "
                        "(`users.export`).")},
        "/v1/event-schemas": {
            "get": _op("GET /v1/event-schemas", "Event schemas", "Latest schema of every event type", "read",
                       {"200": ("Built-in and registered types", ref("EventSchemaList"))}),
            "post": _op("POST /v1/event-schemas", "Event schemas", "Register a new event type or a new version of one", "admin",
                        {"201": ("Registered", ref("EventSchema"))},
                        [MALFORMED, ("409", "Not backward compatible", "Incompatible schema version", "/version",
                                     "must be 2, got 3"), TOO_LARGE,
                         ("422", "Invalid schema", "Invalid request body", "/type", "Expected `str` matching regex")],
                        body=ref("EventSchema"),
                        description="A new version must accept every event the previous version accepted."),
        },
        "/v1/event-schemas/{type}": {"get": _op(
            "GET /v1/event-schemas/{type}", "Event schemas", "All versions of one event type's schema", "read",
            {"200": ("Every version, oldest first", ref("EventSchemaVersions"))},
            [("404", "Unknown type", "Unknown event type", "type", "no schema for 'wishlist'")],
            parameters=[_path("type", "The event type", "wishlist")])},
        "/v1/keys": {
            "get": _op("GET /v1/keys", "Keys", "List API keys", "admin", {"200": ("Every key (never a token)", ref("ApiKeyList"))}),
            "post": _op("POST /v1/keys", "Keys", "Create an API key (the token is shown once)", "admin",
                        {"201": ("Created", ref("NewApiKey"))},
                        [MALFORMED, TOO_LARGE, ("422", "Invalid scopes", "Invalid key request", "/scopes",
                                                "unknown scope(s) ['write']; use ['admin', 'ingest', 'read']")],
                        body=ref("KeyRequest")),
        },
        "/v1/keys/{id}": {"delete": _op("DELETE /v1/keys/{id}", "Keys", "Revoke an API key", "admin", {"204": ("Revoked", {})},
                                        [("404", "Unknown key", "Unknown key", "id", "no active key 'k0000'")],
                                        parameters=[_path("id", "The key id", "k3h9x2")])},
        "/v1/models": {"get": _op("GET /v1/models", "Models", "Model versions and which one serves", "read",
                                  {"200": ("Every version", ref("ModelList"))})},
        "/v1/models/train": {"post": _accepted_with_location(_op(
            "POST /v1/models/train", "Models", "Start a train job: fit on the event log, evaluate, register", "admin",
            {"202": ("Accepted: the job, `queued` (`Location` is its URL)", ref("TrainJob"))},
            [MALFORMED, TOO_LARGE, ("422", "Invalid request", "Unknown model family", "/family", "known: als, bpr, ease, ..."),
             ("409", "Another node of the deployment holds the training lease (the detail names it)",
              "Training runs on another node", None, None)],
            body=ref("TrainRequest"), body_required=False,
            description="Answers at once with a job; poll `GET /v1/models/train/jobs/{id}` until its status is "
                        "`succeeded` (its `result` names the new version) or `failed` (its `error` says why, e.g. an "
                        "empty event log). A server trains one job at a time in a worker process: a job posted while "
                        "another runs waits as `queued`; training runs on one node of a deployment at a time, so "
                        "while another node trains the answer is 409 naming it. A promoted version serves within "
                        "a second of success on every worker (each polls the registry). "
                        "The body may be empty (the default family)."))},
        "/v1/models/train/jobs": {"get": _op(
            "GET /v1/models/train/jobs", "Models", "Recent train jobs, newest first", "read",
            {"200": (f"The newest {LIST_LIMIT} jobs of the deployment (every server process sees the same)",
                     ref("TrainJobList"))})},
        "/v1/models/train/jobs/{id}": {"get": _op(
            "GET /v1/models/train/jobs/{id}", "Models", "One train job: status, stage, progress, result or error", "read",
            {"200": ("The job", ref("TrainJob"))},
            [("400", "Invalid job id", "Invalid job id", "id", ID_RULE),
             ("404", "Unknown job", "Unknown train job", "id", "no train job '019b7a3c5e00-00000000'")],
            parameters=[_path("id", "The job id, as `POST /v1/models/train` answered it", "019b7a3c5e00-9f2c41d7",
                              {"type": "string", "minLength": 1, "maxLength": 64})],
            description="A job whose worker stopped without ending it (the server was killed) reads as `failed`.")},
        "/v1/models/rollback": {"post": _op(
            "POST /v1/models/rollback", "Models", "Serve the previously serving version again", "admin",
            {"200": ("Now serving", ref("ModelVersion"))},
            [("409", "No earlier version", "Nothing to roll back to", None, None)])},
        "/v1/models/{version}/promote": {"post": _op(
            "POST /v1/models/{version}/promote", "Models", "Serve this version", "admin", {"200": ("Now serving", ref("ModelVersion"))},
            [("400", "Invalid version", "Invalid version", "version", "must be an integer"),
             ("404", "Unknown version", "Unknown model version", "version", "no version 9")],
            parameters=[_path("version", "The model version", 3, {"type": "integer", "minimum": 1})])},
        "/v1/placements": {"get": _op("GET /v1/placements", "Placements", "Placements in force (built-in and configured)", "read",
                                      {"200": ("Every placement", ref("PlacementList"))})},
        "/v1/placements/{name}": {
            "parameters": [name_param],
            "get": _op("GET /v1/placements/{name}", "Placements", "One placement", "read", {"200": ("Found", ref("Placement"))},
                       [("404", "Unknown placement", "Unknown placement", "name", "no placement 'basket'")]),
            "put": _op("PUT /v1/placements/{name}", "Placements", "Configure a placement (every worker applies it within a second)",
                       "admin", {"200": ("Replaced", ref("Placement")), "201": ("Created", ref("Placement"))},
                       [(bad_name[0], "Malformed JSON or invalid name", *bad_name[2:]), TOO_LARGE, ("422", "Invalid configuration; fields are JSON pointers into the body",
                                    "Invalid placement", "/sources/trending", "must be a number >= 0 or {weight, n}")],
                       body=ref("PlacementConfig")),
            "delete": _op("DELETE /v1/placements/{name}", "Placements", "Remove a configured placement", "admin",
                          {"204": ("Removed (a built-in placement returns to its default)", {})},
                          [bad_name, ("404", "Not configured", "Unknown placement", "name", "no configured placement 'basket'")]),
        },
        "/v1/audit": {"get": _op(
            "GET /v1/audit", "Audit", "Page through the audit log (admin actions, consent changes)", "admin",
            {"200": ("A page of records (newest first unless `order=asc`)", ref("AuditPage"))},
            [("400", "Invalid query", "Invalid audit query", "limit", "must be an integer from 1 to 1000")],
            parameters=[_query("cursor", "`next_cursor` of the previous page", {"type": "string", "pattern": "^[0-9]{1,18}$"}),
                        _query("limit", "Records per page", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                        _query("action", "Only this action (`keys.create`), or a family of them (`keys.`)",
                               {"type": "string", "minLength": 1, "maxLength": 256}, example="keys."),
                        _query("target", "Only records about this target (a key id, placement, user id, ...)",
                               {"type": "string", "minLength": 1, "maxLength": 256}),
                        _query("order", "`desc`: newest first; `asc`: oldest first", {"type": "string", "enum": ["desc", "asc"]})],
            description="Actions: `keys.create`, `keys.revoke`, `placements.put`, `placements.delete`, `models.train`, "
                        "`models.promote`, `models.canary`, `models.rollback`, `experiments.create`, `experiments.update`, "
                        "`experiments.stop`, `experiments.rollback` (a canary's guardrail broke), `event_schemas.register`, `consent.change`, `users.export`. Each record holds "
                        "the hash of the one before; `tastemaker audit verify` checks the chain.")},
        "/healthz": {"get": _op("GET /healthz", "Operations", "Liveness", None, {"200": ("Alive", ref("Health"))})},
        "/readyz": {"get": _op("GET /readyz", "Operations", "Readiness", None,
                               {"200": ("Ready to serve", ref("Readiness")),
                                "503": ("Not ready: `starting`, `unavailable` (the database) or `storage_full` (writes fail "
                                        "for lack of space; with `Retry-After`)", ref("Readiness"))})},
        "/metrics": {"get": _op("GET /metrics", "Operations", "Prometheus metrics", None,
                                {"200": ("The exposition text", {"type": "string"})})},
        "/openapi.json": {"get": _op("GET /openapi.json", "Operations", "This document", None,
                                     {"200": ("The OpenAPI 3.1 document", {"type": "object"})})},
        "/docs": {"get": _op("GET /docs", "Operations", "This API reference as a web page", None,
                             {"200": ("An HTML page", {"type": "string"})})},
    }


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}


def _with_privacy(paths: dict[str, Any]) -> dict[str, Any]:
    add_privacy_paths(paths, _op, _accepted_with_location, _query, _path)
    add_auth_paths(paths, _op, _path, {"malformed": MALFORMED, "too_large": TOO_LARGE})
    add_experiment_paths(paths, _op, _query, _path, {"malformed": MALFORMED, "too_large": TOO_LARGE})
    add_segment_paths(paths, _op, _path, {"malformed": MALFORMED, "too_large": TOO_LARGE})
    add_feature_paths(paths, _op, _path, _query, {"malformed": MALFORMED, "too_large": TOO_LARGE})
    add_results_paths(paths, _op, _query, _path)
    add_quarantine_paths(paths, _op, _query, {"malformed": MALFORMED, "too_large": TOO_LARGE})
    add_read_after(paths, _problem)  # X-Tastemaker-Position / X-Tastemaker-After (api.read_after)
    return paths


def build_openapi() -> dict[str, Any]:
    """The whole document (built once per app)."""
    unauthorized = _problem("Missing or invalid API key or access token (expired, bad signature, unknown kid, ...)", "401", "Unauthorized",
                            detail="missing Authorization header: send Authorization: Bearer <api key>")
    forbidden = _problem("The key or token lacks the operation's permission (`x-required-permission`), or a browser "
                         "key asked for another user, or a key asked for a placement it is not allowed", "403", "Forbidden",
                         detail="this key 'k3h9x2' lacks the 'keys.manage' permission (its roles: ingest, read; roles that "
                                "grant it: admin)")
    full = _problem("No space left to store the write; it was not stored (retry later)", "507", "Insufficient Storage",
                    detail="the server has no space left to store this write ([Errno 28] No space left on device); "
                           "it was not stored. Retry after space is freed.")
    full["headers"] = RETRY_AFTER
    limited = _problem("Rate limit spent (per key, or per client address without a valid key)", "429",
                       "Too Many Requests", detail="the 'read' rate limit of key k3h9x2 (10000/s, burst 20000) is spent; retry in 1 s")
    limited["content"][PROBLEM]["example"]["limit"] = "read"
    limited["headers"] = {**RETRY_AFTER, **{f"RateLimit-{h}": {"description": d, "schema": {"type": "integer"}} for h, d in (
        ("Limit", "The bucket's size (requests at once)"), ("Remaining", "Requests left now (0)"),
        ("Reset", "Seconds until a request is allowed again"))}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tastemaker", "version": __version__,
                 "description": "A self-hosted, real-time personalization engine: send events, get recommendations.",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"oauth2": []}],
        "tags": [{"name": n, "description": d} for n, d in TAGS],
        "paths": _with_privacy(_paths()),
        "components": {
            "schemas": {**component_schemas(), **privacy_schemas(), **auth_schemas(), **experiment_schemas(), **segment_schemas(), **feature_schemas(),
                        **results_schemas(), **quarantine_schemas()},
            "securitySchemes": security_schemes(),
            "responses": {"Unauthorized": unauthorized, "Forbidden": forbidden, "InsufficientStorage": full,
                          "TooManyRequests": limited},
        },
    }
