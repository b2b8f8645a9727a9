"""``/v1/quarantine``: the events the guard held (bots, shilling), and the operators' decisions.

``GET /v1/quarantine`` pages through flagged events (``status``, ``user_id``, ``after``,
``limit``); ``GET /v1/quarantine/users`` lists users with flagged events; ``POST
/v1/quarantine/release`` folds events back into popularity, trending and co-visitation (a
released user is trusted from then on); ``POST /v1/quarantine/confirm`` keeps them out for
good. Both name ``seqs`` or a ``user_id`` and are audited (``quarantine.release``,
``quarantine.confirm``). Permission ``quarantine.manage`` (the ``admin`` role).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.pseudonyms import stored_user_id
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError, ValidationFailed, from_msgspec
from tastemaker.serving.request import unknown_parameters
from tastemaker.storage.protocols import (
    QUARANTINE_STATUSES,
    QuarantinedUser,
    QuarantineRecord,
)

MAX_LIMIT = 1000
MAX_SEQS = 10_000
EVENT_PARAMETERS = ("status", "user_id", "after", "limit")
USER_PARAMETERS = ("status", "limit")


class Decision(msgspec.Struct, forbid_unknown_fields=True):
    seqs: Annotated[list[Annotated[int, msgspec.Meta(ge=1)]], msgspec.Meta(max_length=MAX_SEQS)] | None = None
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None


def public_event(r: QuarantineRecord) -> dict[str, Any]:
    return {"seq": r.seq, "user_id": r.user_id, "item_id": r.item_id, "type": r.type, "timestamp": r.ts,
            "reason": r.reason, "status": r.status, "flagged_at": r.flagged_at, "decided_at": r.decided_at}


def public_user(u: QuarantinedUser) -> dict[str, Any]:
    return {"user_id": u.user_id, "events": u.events, "reasons": u.reasons, "first_seq": u.first_seq,
            "last_seq": u.last_seq}


def _parameters(params: dict[str, str], known: tuple[str, ...], any_status: bool) -> tuple[str | None, int, list[FieldError]]:
    errors = unknown_parameters(params, known)
    status = params.get("status", "held" if any_status else None)
    if status == "any" and any_status:
        status = None
    elif status is not None and status not in QUARANTINE_STATUSES:
        allowed = ", ".join([*QUARANTINE_STATUSES, *(["any"] if any_status else [])])
        errors.append(FieldError("status", f"must be one of {allowed}"))
    limit = params.get("limit", "100")
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit[:6]) <= MAX_LIMIT):
        errors.append(FieldError("limit", f"must be an integer from 1 to {MAX_LIMIT}"))
        limit = "100"
    return status, int(limit), errors


def _store_or_503(request: Request) -> Response | None:
    if not request.app.state.engine.quarantine.available:
        return problem(503, "Quarantine unavailable", "this deployment has no quarantine store")
    return None


async def list_events(request: Request) -> Response:
    params = dict(request.query_params)
    status, limit, errors = _parameters(params, EVENT_PARAMETERS, any_status=False)
    after = params.get("after", "0")
    if not (after.isascii() and after.isdigit() and len(after) <= 18):
        errors.append(FieldError("after", "must be the next_after of a previous page (an event seq)"))
    user_id = params.get("user_id")
    if user_id is not None and not 1 <= len(user_id) <= 256:
        errors.append(FieldError("user_id", "must be 1 to 256 characters"))
    if errors:
        raise ValidationFailed(errors, title="Invalid quarantine query", status=400)
    refused = _store_or_503(request)
    if refused is not None:
        return refused
    engine = request.app.state.engine
    user = stored_user_id(request, user_id) if user_id is not None else None
    records = engine.quarantine.events(status, user, int(after), limit)
    next_after = records[-1].seq if len(records) == limit else None
    return JSONResponse({"events": [public_event(r) for r in records], "next_after": next_after})


async def list_users(request: Request) -> Response:
    params = dict(request.query_params)
    status, limit, errors = _parameters(params, USER_PARAMETERS, any_status=True)
    if errors:
        raise ValidationFailed(errors, title="Invalid quarantine query", status=400)
    refused = _store_or_503(request)
    if refused is not None:
        return refused
    users = request.app.state.engine.quarantine.users(status, limit)
    return JSONResponse({"users": [public_user(u) for u in users]})


async def _decision(request: Request) -> Decision:
    try:
        body = msgspec.json.decode(await read_body(request, body_limit(request, "small")), type=Decision)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise from_msgspec(exc) from None
    if (body.seqs is None) == (body.user_id is None):
        raise ValidationFailed([FieldError("/", "name either seqs (event positions) or a user_id")],
                               title="Invalid quarantine decision", status=422)
    if body.user_id is not None:
        body.user_id = stored_user_id(request, body.user_id)
    return body


async def _decide(request: Request, action: str) -> Response:
    body = await _decision(request)
    refused = _store_or_503(request)
    if refused is not None:
        return refused
    engine = request.app.state.engine
    admin = engine.quarantine
    async with engine.ingest.apply_lock():  # between two batches, never inside one
        changed = admin.release(body.seqs, body.user_id) if action == "release" else admin.confirm(body.seqs, body.user_id)
    engine.toplists.clear()  # popular and trending lists are recomputed with the change
    # no user id in the append-only audit log (an erasure could not take it out): the seqs name the events
    target = "user" if body.user_id is not None else "seqs"
    audit.record(request, f"quarantine.{action}", target, {"events": len(changed),
                                                          "seqs": [r.seq for r in changed][:100]})
    return JSONResponse({"changed": len(changed), "events": [public_event(r) for r in changed[:MAX_LIMIT]]})


async def release(request: Request) -> Response:
    return await _decide(request, "release")


async def confirm(request: Request) -> Response:
    return await _decide(request, "confirm")
