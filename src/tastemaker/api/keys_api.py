"""``/v1/keys``: create, list and revoke API keys (``keys.manage``; listing: ``keys.read``).

A key may be restricted to ``placements`` and, with the ``browser`` role, bound to one
``user_id``: a public key that a shop puts in its web page for a signed-in user, which may
only send that user's events and read that user's recommendations (api.auth). Creating one
is audited as ``keys.create_browser`` without the user id (the key row holds it, and erasing
the user deletes the key: the audit log must not keep the id).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.pseudonyms import stored_user_id
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.keys import check_grant, create_key
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError, ValidationFailed, from_msgspec
from tastemaker.storage.protocols import ApiKeyRecord


class KeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    scopes: Annotated[list[str], msgspec.Meta(min_length=1, max_length=16)]
    placements: Annotated[list[str], msgspec.Meta(max_length=64)] | None = None
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None


def public(record: ApiKeyRecord, id_field: str = "key_id") -> dict:
    out = {id_field: record.key_id, "name": record.name, "scopes": sorted(record.scopes),
           "created_at": record.created_at, "revoked": record.revoked,
           "placements": None if record.placements is None else sorted(record.placements)}
    if id_field == "key_id":
        out["user_id"] = record.user_id
    return out


async def decode_grant(request: Request, kind: str) -> KeyRequest:
    """The request body, checked (422 naming the field); ``user_id`` only for keys."""
    try:
        body = msgspec.json.decode(await read_body(request, body_limit(request, "small")), type=KeyRequest)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise from_msgspec(exc) from None
    errors = check_grant(set(body.scopes), body.user_id, body.placements)
    if kind == "client" and body.user_id is not None:
        errors.insert(0, ("/user_id", "an OAuth client acts for an application, not for one user; use a browser key"))
    if errors:
        raise ValidationFailed([FieldError(f, r) for f, r in errors], title=f"Invalid {'key' if kind == 'key' else 'client'} request",
                               status=422)
    return body


async def post_key(request: Request) -> Response:
    body = await decode_grant(request, "key")
    record, token = create_key(request.app.state.engine.stores.keys, body.name, set(body.scopes),
                               user_id=stored_user_id(request, body.user_id),
                               placements=body.placements)
    summary = {"name": record.name, "scopes": sorted(record.scopes)}
    if record.placements is not None:
        summary["placements"] = sorted(record.placements)
    if record.user_id is not None:
        audit.record(request, "keys.create_browser", record.key_id, {**summary, "bound_to_user": True})
    else:
        audit.record(request, "keys.create", record.key_id, summary)
    return JSONResponse({**public(record), "token": token}, status_code=201)


async def list_keys(request: Request) -> Response:
    return JSONResponse({"keys": [public(r) for r in request.app.state.engine.stores.keys.list() if r.kind == "key"]})


async def revoke_key(request: Request) -> Response:
    key_id = request.path_params["id"]
    found = request.app.state.engine.stores.keys.find(key_id)
    if found is None or found[0].kind != "key" or not request.app.state.engine.stores.keys.revoke(key_id):
        return problem(404, "Unknown key", errors=[FieldError("id", f"no active key '{key_id}'")])
    request.app.state.verifier.forget()
    audit.record(request, "keys.revoke", key_id)
    return Response(status_code=204)
