"""``/v1/event-schemas``: list and register versioned event schemas."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError
from tastemaker.schema.validation import decode_json
from tastemaker.schema.registry import EventSchema, SchemaConflict

_decode = msgspec.json.Decoder(EventSchema).decode


def _public(schema: EventSchema) -> dict:
    """A schema as JSON, always with its version (the struct omits the default, 1)."""
    return {**msgspec.to_builtins(schema), "version": schema.version}


async def list_schemas(request: Request) -> Response:
    event_schemas = request.app.state.engine.event_schemas
    return JSONResponse({"schemas": [_public(s) for s in event_schemas.all_latest()]})


async def get_schema_versions(request: Request) -> Response:
    versions = request.app.state.engine.event_schemas.versions(request.path_params["type"])
    if not versions:
        return problem(404, "Unknown event type", errors=[FieldError("type", f"no schema for '{request.path_params['type']}'")])
    return JSONResponse({"type": request.path_params["type"], "versions": [_public(s) for s in versions]})


async def register_schema(request: Request) -> Response:
    schema = decode_json(_decode, await read_body(request, body_limit(request, "small")))
    try:
        request.app.state.engine.register_schema(schema)
    except SchemaConflict as exc:
        errors = [FieldError(f"/{r.split(':', 1)[0].replace('.', '/')}", r.split(": ", 1)[-1]) for r in exc.reasons]
        return problem(409, "Incompatible schema version", errors=errors)
    audit.record(request, "event_schemas.register", schema.type, {"version": schema.version})
    return JSONResponse(_public(schema), status_code=201)
