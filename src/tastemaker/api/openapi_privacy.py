"""The OpenAPI entries of erasure: ``DELETE /v1/users/{id}?erase=true`` and the job resource."""

from __future__ import annotations

from typing import Any, Callable

from tastemaker.api.openapi_schemas import _n, _obj, _s, ref

ERASE_DESCRIPTION = (
    "Without `erase`: removes the stored profile document only. With `erase=true` (the `admin` scope): erases the "
    "person everywhere (GDPR Art. 17): their events in the log and in bulk-import segments, impressions, profile, "
    "online state and snapshot, their contributions to co-visitation, popularity and trending (un-counted exactly), "
    "then VACUUM so deleted rows leave the database and its WAL. Answers `202` with a job at once: recommendations "
    "for the id equal a new user's from the next request; poll `GET /v1/privacy/jobs/{id}` until `done`. The id is "
    "tombstoned with a keyed HMAC: later events for it are refused with `409`.")


def privacy_schemas() -> dict[str, Any]:
    job = _obj({
        "id": _s("The job id"),
        "subject": _s("HMAC-SHA256 of the user id under the deployment's erasure key (never the id)"),
        "status": {"type": "string", "enum": ["running", "done", "failed"]},
        "created_at": _n("When the erasure was asked for (epoch seconds)"),
        "served_at": {"type": ["number", "null"], "description": "When serving stopped personalising for the id"},
        "finished_at": {"type": ["number", "null"], "description": "When the background part ended"},
        "steps": {"type": "object", "description": "What each step removed (`events`, `impressions`, `profile`, "
                  "`keys`, `artifacts_holding_id`, ...) and, under the step's name plus `_s`, the seconds from the start to its end"},
        "error": {"type": ["string", "null"]},
    }, ["id", "subject", "status", "created_at", "steps"], "One erasure and its progress")
    retention = _obj({
        "id": _s("The job id"),
        "kind": {"type": "string", "enum": ["retention"]},
        "dry_run": {"type": "boolean"},
        "cutoffs": {"type": "object", "additionalProperties": {"type": "number"},
                    "description": "Event type (`*`: every other type; `impressions`: logged impressions) -> epoch "
                                   "seconds; older ones are deleted"},
        "status": {"type": "string", "enum": ["running", "done", "failed"]},
        "created_at": _n("When the job started (epoch seconds)"),
        "finished_at": {"type": ["number", "null"]},
        "steps": {"type": "object", "description": "`events_deleted` (per event type), `impressions_deleted`, "
                  "`state_rows_folded` (online state rebuilt from the retained log), `snapshot`, `space_reclaimed`, "
                  "and under each step's name plus `_s` the seconds from the start to its end"},
        "error": {"type": ["string", "null"]},
    }, ["id", "kind", "status", "created_at", "steps"], "One application of the retention policy (TASTEMAKER_RETENTION)")
    any_job = {"oneOf": [ref("ErasureJob"), ref("RetentionJob")]}
    return {"ErasureJob": job, "RetentionJob": retention,
            "ErasureJobList": _obj({"jobs": {"type": "array", "items": any_job}}, ["jobs"])}


EXAMPLE_JOB = {"id": "5f0c2a9e11d3b4a7", "subject": "9b1e0f8c" + "0" * 56, "status": "done", "created_at": 1764921600.0,
               "served_at": 1764921600.001, "finished_at": 1764921601.9, "error": None,
               "steps": {"events_found": 10000, "aggregates_uncounted": True, "events": 10000, "impressions": 12,
                         "profile": 1, "keys": 0, "snapshot": True, "space_reclaimed": True, "artifacts_holding_id": []}}


def _example(op: dict[str, Any], status: str, value: Any) -> dict[str, Any]:
    op["responses"][status]["content"]["application/json"]["example"] = value
    return op


def add_privacy_paths(paths: dict[str, Any], op: Callable[..., dict[str, Any]], accepted: Callable[[dict], dict],
                      query: Callable[..., dict[str, Any]], path: Callable[..., dict[str, Any]]) -> None:
    """Give ``DELETE /v1/users/{id}`` its ``erase`` parameter and add ``/v1/privacy/jobs``."""
    paths["/v1/users/{id}"]["delete"] = accepted(_example(op(
        "DELETE /v1/users/{id}", "Users", "Delete a user's profile, or erase the person everywhere (erase=true)",
        "ingest", {"204": ("Profile deleted", {}), "202": ("Erasure started: the job (`Location` is its URL)", ref("ErasureJob"))},
        [("400", "Invalid parameter", "Invalid parameter", "erase", "must be true or false"),
         ("404", "Not found", "Unknown user", "id", "no user 'u-x'")],
        parameters=[query("erase", "`true`: erase everything held about the person (needs `admin`)",
                          {"type": "string", "enum": ["true", "false", "1", "0"]})],
        description=ERASE_DESCRIPTION), "202", {**EXAMPLE_JOB, "status": "running", "finished_at": None, "steps": {}}))
    paths["/v1/privacy/jobs"] = {"get": _example(op(
        "GET /v1/privacy/jobs", "Users", "Erasure and retention jobs of this server process, newest first", "admin",
        {"200": ("Up to 100 jobs", ref("ErasureJobList"))}), "200", {"jobs": [EXAMPLE_JOB]})}
    paths["/v1/privacy/jobs/{id}"] = {"get": _example(op(
        "GET /v1/privacy/jobs/{id}", "Users", "One erasure or retention job: status and what each step removed", "admin",
        {"200": ("The job", {"oneOf": [ref("ErasureJob"), ref("RetentionJob")]})},
        [("404", "Unknown job", "Unknown privacy job", "id", "no privacy job '5f0c2a9e11d3b4a7'")],
        parameters=[path("id", "The job id", "5f0c2a9e11d3b4a7")]), "200", EXAMPLE_JOB)}
