"""``/v1/segments``: rule segments defined by an expression over a user (admin to change).

``POST /v1/segments`` takes ``{"name", "expression", "description"}``; ``PUT
/v1/segments/{name}`` creates or replaces one (``{"expression", "description"}``);
``DELETE`` removes it. The expression is the rules' language over one user
(:mod:`tastemaker.rules.user_expressions`): an invalid one is refused whole with a 422 whose
error names the 0-based position of the offending token. Every change is audited
(``segments.create``, ``segments.update``, ``segments.delete``) and applies from the next
request on every worker (the store's change token). ``GET /v1/segments`` also lists the
built-in segments (lifecycle stages, behaviour, predictive).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.serving.segments import BUILTIN, NAME, check_definition
from tastemaker.storage.protocols import SegmentConflict, SegmentRecord, SegmentStore


def public(record: SegmentRecord) -> dict[str, Any]:
    return {"name": record.name, **record.definition, "created_at": record.created_at,
            "updated_at": record.updated_at, "version": record.version}


def _store(request: Request) -> SegmentStore:
    store = request.app.state.engine.stores.segments
    if store is None:
        raise ValidationFailed([FieldError("", "this backend keeps no segments")], title="Not available", status=404)
    return store


def _name(request: Request) -> str:
    name = request.path_params["name"]
    if not NAME.fullmatch(name):
        raise ValidationFailed([FieldError("name", "a segment name is 1-64 of a-z, 0-9, '-', '_'")],
                               title="Invalid segment name", status=400)
    return name


async def _json_body(request: Request) -> Any:
    body = await read_body(request, body_limit(request, "small"))
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValidationFailed([FieldError("", f"malformed JSON: {exc}")], title="Malformed JSON", status=400) from None


async def list_segments(request: Request) -> Response:
    records = await asyncio.get_running_loop().run_in_executor(None, _store(request).list)
    return JSONResponse({"segments": [public(r) for r in records], "builtin": list(BUILTIN)})


async def get_segment(request: Request) -> Response:
    name = _name(request)
    record = _store(request).get(name)
    if record is None:
        return problem(404, "Unknown segment", errors=[FieldError("name", f"no segment '{name}'")])
    return JSONResponse(public(record))


async def post_segment(request: Request) -> Response:
    store = _store(request)
    doc = await _json_body(request)
    name = doc.get("name") if isinstance(doc, dict) else None
    if not isinstance(name, str):
        return problem(422, "Invalid segment", errors=[FieldError("name", "required: a segment name")])
    definition, _ = check_definition(name, doc)
    try:
        record = store.create(name, definition)
    except SegmentConflict as exc:
        return problem(409, "Segment exists", errors=[FieldError("name", str(exc))])
    audit.record(request, "segments.create", name, definition)
    return JSONResponse(public(record), status_code=201, headers={"Location": f"/v1/segments/{name}"})


async def put_segment(request: Request) -> Response:
    store = _store(request)
    name = _name(request)
    doc = await _json_body(request)
    if isinstance(doc, dict) and doc.get("name", name) != name:
        return problem(422, "Invalid segment", errors=[FieldError("name", f"the body names '{doc['name']}', the path '{name}'")])
    definition, _ = check_definition(name, doc)
    try:
        record, created = store.replace(name, definition), False
    except KeyError:
        try:
            record, created = store.create(name, definition), True
        except SegmentConflict:  # created meanwhile by another writer: this write replaces it
            record, created = store.replace(name, definition), False
    audit.record(request, "segments.create" if created else "segments.update", name, definition)
    return JSONResponse(public(record), status_code=201 if created else 200)


async def delete_segment(request: Request) -> Response:
    name = _name(request)
    if not _store(request).delete(name):
        return problem(404, "Unknown segment", errors=[FieldError("name", f"no segment '{name}'")])
    audit.record(request, "segments.delete", name)
    return Response(status_code=204)
