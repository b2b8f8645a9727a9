"""Items and users: batch upsert, get, put, patch (JSON merge patch), delete.

Both resources behave the same, so one class serves both; only the record type, the store
and what a change does to online state differ.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tastemaker.api import audit
from tastemaker.api.body import body_limit, read_body
from tastemaker.api.auth import has_permission
from tastemaker.api.paths import id_route
from tastemaker.api.pseudonyms import stored_user_id
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError, ValidationFailed, from_msgspec
from tastemaker.schema.records import Item, User
from tastemaker.schema.validation import InputLimits, check_free_form, decode_batch, decode_json, normalize_documents

_decode_obj = msgspec.json.Decoder(dict[str, Any])


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch.

    >>> merge_patch({"a": 1, "p": {"x": 1, "y": 2}}, {"a": None, "p": {"y": 3}})
    {'p': {'x': 1, 'y': 3}}
    """
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _limits(request: Request) -> InputLimits:
    return request.app.state.engine.settings.input_limits


def may_read(request: Request) -> bool:
    """Whether the request's key may read documents (``read`` or ``admin`` scope)."""
    record = request.scope.get("tastemaker.key")
    return record is not None and has_permission(record, "data.read")


class DocumentResource:
    def __init__(self, name: str, cls: type, store_attr: str, audit_consent: bool = False):
        self.name = name  # "items" or "users"
        self.cls = cls
        self.store_attr = store_attr
        self.singular = name[:-1]
        self.audit_consent = audit_consent  # users: every consent change goes to the audit log

    def _upsert(self, request: Request, docs: list) -> int:
        """Write ``docs``; for users, record each consent change (read before, recorded after the write)."""
        store = self._store(request)
        changes = audit.consent_changes(store, docs) if self.audit_consent else None
        version = store.upsert(docs)
        if changes:
            audit.record_consent_changes(request, changes)
        return version

    def _store(self, request: Request):
        return getattr(request.app.state.engine.stores, self.store_attr)

    def _changed(self, request: Request) -> None:
        engine = request.app.state.engine
        engine.processor.sync_catalog()
        engine.toplists.clear()
        if self.audit_consent:  # users: a consent change holds from the very next request
            engine.consent.refresh()

    def _not_found(self, doc_id: str) -> Response:
        return problem(404, f"Unknown {self.singular}", errors=[FieldError("id", f"no {self.singular} '{doc_id}'")])

    async def upsert_batch(self, request: Request) -> Response:
        docs, is_array = decode_batch(await read_body(request, body_limit(request, "batch")), self.cls)
        docs = normalize_documents(docs, is_array, _limits(request))
        if self.audit_consent:  # users: stored under their pseudonym when pseudonymization is on
            docs = [d if (sid := stored_user_id(request, d.id)) == d.id else msgspec.structs.replace(d, id=sid)
                    for d in docs]
        version = self._upsert(request, docs)
        self._changed(request)
        return JSONResponse({"upserted": len(docs), "version": version})

    async def get(self, request: Request) -> Response:
        doc = self._store(request).get(request.path_params["id"])
        if doc is None:
            return self._not_found(request.path_params["id"])
        return JSONResponse(doc)

    async def _read_object(self, request: Request) -> dict[str, Any]:
        """The body as a JSON object, its nesting and strings checked before anything walks it."""
        limits = _limits(request)
        raw = decode_json(_decode_obj.decode, await read_body(request, body_limit(request, "document")))
        # one level more than a free-form field allows: the document itself is an object
        errors = check_free_form(raw, "", replace(limits, max_depth=limits.max_depth + 1))
        if errors:
            raise ValidationFailed(errors, title="Invalid record")
        if self.audit_consent and "id" in raw:  # users: the path's id is already the stored one (api.pseudonyms)
            raw["id"] = stored_user_id(request, raw["id"])
        return raw

    async def put(self, request: Request) -> Response:
        doc_id = request.path_params["id"]
        return self._write(request, doc_id, await self._read_object(request))

    async def patch(self, request: Request) -> Response:
        doc_id = request.path_params["id"]
        current = self._store(request).get(doc_id)
        if current is None:
            return self._not_found(doc_id)
        patch = await self._read_object(request)
        return self._write(request, doc_id, merge_patch(msgspec.to_builtins(current), patch))

    def _write(self, request: Request, doc_id: str, raw: dict) -> Response:
        if raw.get("id", doc_id) != doc_id:
            raise ValidationFailed([FieldError("/id", f"does not match the id in the path ('{doc_id}')")])
        raw["id"] = doc_id
        try:
            doc = msgspec.convert(raw, self.cls)
        except msgspec.ValidationError as exc:
            raise from_msgspec(exc) from None
        (doc,) = normalize_documents([doc], is_array=False, limits=_limits(request))
        self._upsert(request, [doc])
        self._changed(request)
        if not may_read(request):
            # The stored document (after a merge patch: fields this request never sent) is
            # for keys that may read it; a write-only key learns only that the write held.
            return JSONResponse({"id": doc_id, "written": True})
        return JSONResponse(doc)

    async def delete(self, request: Request) -> Response:
        doc_id = request.path_params["id"]
        stored = self._store(request).get(doc_id) if self.audit_consent else None
        if not self._store(request).delete(doc_id):
            return self._not_found(doc_id)
        if stored is not None and stored.consent:  # users: the consent they gave goes with the document
            audit.record_consent_changes(request, [(doc_id, dict(stored.consent), {})])
        self._changed(request)
        return Response(status_code=204)

    def routes(self, get: Callable | None = None) -> list[Route]:
        base = f"/v1/{self.name}"
        return [
            Route(base, self.upsert_batch, methods=["POST"]),
            # ids may hold any character, '/' included (api.paths)
            id_route(base + "/{id}", get or self.get, methods=["GET"]),
            id_route(base + "/{id}", self.put, methods=["PUT"]),
            id_route(base + "/{id}", self.patch, methods=["PATCH"]),
            id_route(base + "/{id}", self.delete, methods=["DELETE"]),
        ]


ITEMS = DocumentResource("items", Item, "items")
USERS = DocumentResource("users", User, "users", audit_consent=True)
