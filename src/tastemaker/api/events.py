"""``POST /v1/events``: one event or a batch; answers once they are durable and applied."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.auth import event_refusal
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.pseudonyms import stored_user_id
from tastemaker.api.responses import JSONResponse


class _UserOf(msgspec.Struct):
    """Only an event's ``user_id`` (every other field is ingest's to validate)."""

    user_id: Any = None


_users_of = msgspec.json.Decoder(list[_UserOf] | _UserOf)


def _user_ids(body: bytes) -> list[Any] | None:
    """The user ids of a batch, in order; None when it does not decode (ingest then says why)."""
    try:
        decoded = _users_of.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return [e.user_id for e in decoded] if isinstance(decoded, list) else [decoded.user_id]


async def post_events(request: Request) -> Response:
    engine = request.app.state.engine
    body = await read_body(request, body_limit(request, "events"))
    key = request.scope.get("tastemaker.key")
    if key is not None and key.user_id is not None:  # a browser key: its own user's events only
        user_ids = _user_ids(body)
        # the key is bound to a stored id: the pseudonym when pseudonymization is on
        refused = event_refusal(key, [stored_user_id(request, u) for u in user_ids]) if user_ids is not None else None
        if refused is not None:
            return refused
    result = await engine.ingest.ingest(body)
    metrics = request.app.state.metrics
    metrics.events_accepted += result.accepted
    metrics.events_duplicate += result.duplicates
    # the log position of the batch's last event: X-Tastemaker-After on a later read (api.read_after)
    return JSONResponse(result.to_dict(), status_code=200, headers={"X-Tastemaker-Position": str(result.last_seq)})
