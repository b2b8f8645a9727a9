"""The OpenAPI entries of ``/v1/quarantine``: flagged events, users, release and confirm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tastemaker.api.openapi_schemas import _n, _obj, _s, ref

_STATUS = {"type": "string", "enum": ["held", "released", "confirmed"]}
_REASONS = ["user_agent", "rate", "regular_gaps", "click_without_view", "shilling", "confirmed"]
EVENT = {"seq": 1042, "user_id": "u-bot-7", "item_id": "i17", "type": "view", "timestamp": 1764921600.0,
         "reason": "regular_gaps", "status": "held", "flagged_at": 1764921600.2, "decided_at": None}
USER = {"user_id": "u-bot-7", "events": 57, "reasons": ["regular_gaps"], "first_seq": 1036, "last_seq": 1180}
DESCRIPTION = (
    "Events the guard held on the write path: a user agent of a crawler or HTTP library, more events than a person "
    "makes (rate), a timer's identical gaps, clicks on items never viewed, or a burst of new users lifting one item "
    "(shilling). Held events stay in the log but count in no popularity, trending, co-visitation or training until "
    "released; the flags are stored, so a restart keeps them.")


def quarantine_schemas() -> dict[str, Any]:
    event = _obj({
        "seq": _n("The event's position in the log", "integer"), "user_id": _s("The user (as stored)"),
        "item_id": {"type": ["string", "null"]}, "type": _s("The event type"),
        "timestamp": _n("The event's time (epoch seconds)"),
        "reason": {"type": "string", "enum": _REASONS, "description": "What made the guard hold it"},
        "status": _STATUS, "flagged_at": _n("When it was held (epoch seconds)"),
        "decided_at": {"type": ["number", "null"], "description": "When an operator released or confirmed it"},
    }, ["seq", "user_id", "item_id", "type", "timestamp", "reason", "status", "flagged_at", "decided_at"],
        "One quarantined event")
    user = _obj({"user_id": _s("The user (as stored)"), "events": _n("Flagged events in the status asked for", "integer"),
                 "reasons": {"type": "array", "items": {"type": "string", "enum": _REASONS}},
                 "first_seq": _n("Oldest flagged event", "integer"), "last_seq": _n("Newest flagged event", "integer")},
                ["user_id", "events", "reasons", "first_seq", "last_seq"], "A user with quarantined events")
    decision = _obj({"seqs": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 10000,
                              "description": "Event positions (from `GET /v1/quarantine`)"},
                     "user_id": {"type": "string", "minLength": 1, "maxLength": 256,
                                 "description": "Every flagged event of this user"}},
                    [], "Name either `seqs` or a `user_id`", closed=True)
    return {
        "QuarantinedEvent": event, "QuarantinedUser": user, "QuarantineDecision": decision,
        "QuarantinedEventList": _obj({"events": {"type": "array", "items": ref("QuarantinedEvent")},
                                      "next_after": {"type": ["integer", "null"],
                                                     "description": "`after` of the next page; null on the last"}},
                                     ["events", "next_after"]),
        "QuarantinedUserList": _obj({"users": {"type": "array", "items": ref("QuarantinedUser")}}, ["users"]),
        "QuarantineResult": _obj({"changed": _n("Events whose status changed", "integer"),
                                  "events": {"type": "array", "items": ref("QuarantinedEvent"),
                                             "description": "Up to 1000 of them, as they are now"}},
                                 ["changed", "events"]),
    }


def _example(op: dict[str, Any], status: str, value: Any) -> dict[str, Any]:
    op["responses"][status]["content"]["application/json"]["example"] = value
    if "requestBody" in op:
        op["requestBody"]["content"]["application/json"]["examples"] = {
            "user": {"summary": "Every flagged event of one user", "value": {"user_id": "u-bot-7"}},
            "seqs": {"summary": "Some events, by log position", "value": {"seqs": [1042, 1043]}}}
    return op


def add_quarantine_paths(paths: dict[str, Any], op: Callable[..., dict[str, Any]], query: Callable[..., dict[str, Any]],
                         problems: dict[str, tuple]) -> None:
    bad_status = ("400", "Invalid parameter", "Invalid quarantine query", "status",
                  "must be one of held, released, confirmed")
    limit = query("limit", "At most this many (1-1000, default 100)", {"type": "integer", "minimum": 1, "maximum": 1000})
    paths["/v1/quarantine"] = {"get": _example(op(
        "GET /v1/quarantine", "Quarantine", "Quarantined events, oldest first", "admin",
        {"200": ("A page of flagged events", ref("QuarantinedEventList"))}, [bad_status],
        parameters=[query("status", "Only events in this status (default: any)", _STATUS),
                    query("user_id", "Only this user's events", {"type": "string", "minLength": 1, "maxLength": 256}),
                    query("after", "Events after this seq (the previous page's `next_after`)",
                          {"type": "integer", "minimum": 0}), limit],
        description=DESCRIPTION), "200", {"events": [EVENT], "next_after": None})}
    paths["/v1/quarantine/users"] = {"get": _example(op(
        "GET /v1/quarantine/users", "Quarantine", "Users with quarantined events, most first", "admin",
        {"200": ("Users and their flagged events", ref("QuarantinedUserList"))},
        [("400", "Invalid parameter", "Invalid quarantine query", "status",
          "must be one of held, released, confirmed, any")],
        parameters=[query("status", "Count events in this status (default held; `any`: every status)",
                          {"type": "string", "enum": ["held", "released", "confirmed", "any"]}), limit]),
        "200", {"users": [USER]})}
    invalid = ("422", "Neither or both of seqs and user_id, or a field of the wrong type", "Invalid quarantine decision",
               "/", "name either seqs (event positions) or a user_id")
    for action, summary, what in (
            ("release", "Release quarantined events: they count again from now on (a released user is trusted)",
             "Released: folded into popularity, trending and co-visitation"),
            ("confirm", "Confirm quarantined events as a bot's: they stay out (the user's later events are held)",
             "Confirmed")):
        paths[f"/v1/quarantine/{action}"] = {"post": _example(op(
            f"POST /v1/quarantine/{action}", "Quarantine", summary, "admin", {"200": (what, ref("QuarantineResult"))},
            [problems["malformed"], problems["too_large"], invalid], body=ref("QuarantineDecision"),
            description=f"Audited as `quarantine.{action}` (the seqs, never the user id)."),
            "200", {"changed": 1, "events": [{**EVENT, "status": "released" if action == "release" else "confirmed",
                                              "decided_at": 1764925200.0}]})}
