"""``/v1/keys``: create, list and revoke API keys (admin only)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.keys import SCOPES, create_key
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError, from_msgspec


class KeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    scopes: Annotated[list[str], msgspec.Meta(min_length=1, max_length=16)]


def _public(record) -> dict:
    return {"key_id": record.key_id, "name": record.name, "scopes": sorted(record.scopes),
            "created_at": record.created_at, "revoked": record.revoked}


async def post_key(request: Request) -> Response:
    try:
        body = msgspec.json.decode(await read_body(request, body_limit(request, "small")), type=KeyRequest)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise from_msgspec(exc) from None
    bad = [s for s in body.scopes if s not in SCOPES]
    if bad:
        return problem(422, "Invalid key request", errors=[FieldError("/scopes", f"unknown scope(s) {bad}; use {sorted(SCOPES)}")])
    record, token = create_key(request.app.state.engine.stores.keys, body.name, set(body.scopes))
    audit.record(request, "keys.create", record.key_id, {"name": record.name, "scopes": sorted(record.scopes)})
    return JSONResponse({**_public(record), "token": token}, status_code=201)


async def list_keys(request: Request) -> Response:
    return JSONResponse({"keys": [_public(r) for r in request.app.state.engine.stores.keys.list()]})


async def revoke_key(request: Request) -> Response:
    if not request.app.state.engine.stores.keys.revoke(request.path_params["id"]):
        return problem(404, "Unknown key", errors=[FieldError("id", f"no active key '{request.path_params['id']}'")])
    request.app.state.verifier.forget()
    audit.record(request, "keys.revoke", request.path_params["id"])
    return Response(status_code=204)
