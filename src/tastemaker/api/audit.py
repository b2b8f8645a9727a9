"""The audit trail from the API: recording admin actions and consent changes, and
``GET /v1/audit`` (admin) to page through it.

Handlers call :func:`record` once their change has been made (a refused or failed request
changes nothing and records nothing). Who is the key id the request authenticated with;
from where is the client's address. The log itself is ``stores.audit``
(:class:`tastemaker.storage.protocols.AuditLog`): append-only and hash-chained.
"""

from __future__ import annotations

import socket
from typing import Any, Sequence

from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.responses import JSONResponse
from tastemaker.schema.errors import FieldError, ValidationFailed
from tastemaker.schema.records import User
from tastemaker.serving.request import unknown_parameters
from tastemaker.storage.protocols import AuditRecord, UserStore

MAX_LIMIT = 1000
PARAMETERS = ("cursor", "limit", "action", "target", "order")


def actor(request: Request) -> str:
    """The key id the request was authenticated with."""
    key = request.scope.get("tastemaker.key")
    return key.key_id if key is not None else "anonymous"


def record(request: Request, action: str, target: str, summary: dict[str, Any] | None = None) -> None:
    """Append one record for the change this request made."""
    log = request.app.state.engine.stores.audit
    if log is not None:
        log.append(actor(request), action, target, summary or {}, request.client.host if request.client else "unknown")


def server_address() -> str:
    """Where a server's own actions come from (no client): this host."""
    return f"server@{socket.gethostname()}"


def record_server(engine: Any, action: str, target: str, summary: dict[str, Any] | None = None,
                  actor: str = "server", address: str | None = None) -> None:
    """Append one record for an action the server took by itself (periodic jobs, a job's
    promotion, the admin key from the environment), or on behalf of ``actor`` after its request ended."""
    log = engine.stores.audit
    if log is not None:
        log.append(actor, action, target, summary or {}, address or server_address())


def consent_changes(store: UserStore, users: Sequence[User]) -> list[tuple[str, dict[str, bool], dict[str, bool]]]:
    """(user id, old consent, new consent) for every user whose consent the write will change;
    read before the write (a user not stored yet had ``{}``)."""
    changes = []
    for user in users:
        stored = store.get(user.id)
        old = dict(stored.consent) if stored is not None else {}
        if old != user.consent:
            changes.append((user.id, old, dict(user.consent)))
    return changes


def record_consent_changes(request: Request, changes: list[tuple[str, dict[str, bool], dict[str, bool]]]) -> None:
    for user_id, old, new in changes:
        record(request, "consent.change", user_id, {"old": old, "new": new})


def public(r: AuditRecord) -> dict[str, Any]:
    return {"seq": r.seq, "ts": r.ts, "actor": r.actor, "action": r.action, "target": r.target, "summary": r.summary,
            "address": r.address, "prev_hash": r.prev_hash, "hash": r.hash}


def _page_parameters(params: dict[str, str]) -> tuple[int | None, int, bool]:
    errors = unknown_parameters(params, PARAMETERS)
    cursor = params.get("cursor")
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        errors.append(FieldError("cursor", "must be the next_cursor of a previous page (a record number)"))
    limit = params.get("limit", "100")
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit[:6]) <= MAX_LIMIT):
        errors.append(FieldError("limit", f"must be an integer from 1 to {MAX_LIMIT}"))
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        errors.append(FieldError("order", "must be 'desc' (newest first) or 'asc' (oldest first)"))
    for name in ("action", "target"):
        if name in params and not 1 <= len(params[name]) <= 256:
            errors.append(FieldError(name, "must be 1 to 256 characters"))
    if errors:
        raise ValidationFailed(errors, title="Invalid audit query", status=400)
    return (int(cursor) if cursor is not None else None), int(limit), order == "desc"


async def list_audit(request: Request) -> Response:
    params = dict(request.query_params)
    cursor, limit, descending = _page_parameters(params)
    log = request.app.state.engine.stores.audit
    records = log.read(cursor, limit, params.get("action"), params.get("target"), descending) if log is not None else []
    next_cursor = str(records[-1].seq) if len(records) == limit else None
    return JSONResponse({"records": [public(r) for r in records], "next_cursor": next_cursor})
