"""``GET /v1/users/{id}/export`` (``privacy.manage``: admin, privacy_officer): everything held about one person, as one JSON
document (GDPR article 20, data portability; CCPA's right to know).

The bundle, in this key order::

    {"format": "tastemaker.user-export/1", "user_id", "exported_at",
     "profile": {"id", "traits", "consent"} | null,      # the stored user document
     "consent_in_effect": {purpose: bool, ..., "default": "allowed" | "required"},
     "online_state": {...} | null,                       # what GET /v1/users/{id} shows as "activity"
     "keys": [{"key_id", "name", "scopes", ...}, ...],   # browser keys bound to the person (no secrets)
     "audit": [record, ...],                             # audit records whose target is the person
     "impressions": [{...}, ...],                        # lists served to them, as logged
     "events": [{"seq", "id", "type", ...every field}, ...],
     "counts": {"events", "impressions", "audit"}}

It is streamed: the events (the part that grows: a user may have 100k) are read from the log
a page at a time in a worker thread (:meth:`~tastemaker.storage.protocols.EventLog.events_for_user`)
and written out page by page, so memory stays at a page whatever the total. The events come
last so their count can follow them.
"""

from __future__ import annotations

import time
from typing import Any, AsyncIterator

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tastemaker.api import audit
from tastemaker.api.documents import USERS
from tastemaker.api.keys_api import public
from tastemaker.api.users import activity
from tastemaker.engine import Engine
from tastemaker.privacy.consent import PURPOSES
from tastemaker.schema.records import Event
from tastemaker.storage.protocols import AuditRecord, ImpressionRecord

FORMAT = "tastemaker.user-export/1"
PAGE = 2_000  # events read from the log and written per chunk
_FIELDS = Event.__struct_fields__
_encode = msgspec.json.Encoder().encode


def _event(seq: int, event: Event) -> dict[str, Any]:
    """Every field, absent ones as null: the bundle's shape does not depend on the event."""
    return {"seq": seq, **{name: getattr(event, name) for name in _FIELDS}}


def _impression(r: ImpressionRecord) -> dict[str, Any]:
    return {"recommendation_id": r.recommendation_id, "placement": r.placement, "ts": r.ts, "items": r.items,
            "log_seq": r.log_seq, "feature_names": list(r.feature_names),
            "features": r.features.tolist() if r.features is not None else None}


def _audit(r: AuditRecord) -> dict[str, Any]:
    return {"seq": r.seq, "ts": r.ts, "actor": r.actor, "action": r.action, "summary": r.summary,
            "address": r.address, "hash": r.hash}


def _audit_records(engine: Engine, user_id: str) -> list[dict[str, Any]]:
    log, out, cursor = engine.stores.audit, [], None
    while log is not None:
        page = log.read(cursor, 1000, target=user_id, descending=False)
        out += [_audit(r) for r in page]
        if len(page) < 1000:
            break
        cursor = page[-1].seq
    return out


def _impressions(engine: Engine, user_id: str) -> list[dict[str, Any]]:
    store, out, after = engine.stores.impressions, [], None
    if engine.recommender.impressions is not None:
        engine.recommender.impressions.flush()  # what was served a moment ago is held too
    while store is not None:
        page = store.read_user(user_id, after, 1000)
        out += [_impression(r) for r in page]
        if len(page) < 1000:
            break
        after = (page[-1].ts, page[-1].recommendation_id)
    return out


def _head(engine: Engine, user_id: str) -> dict[str, Any] | None:
    """Everything but the events, or None when nothing at all is held about ``user_id``."""
    engine.catch_up()
    stored = engine.stores.users.get(user_id)
    live = engine.state.users.get(user_id)
    impressions = _impressions(engine, user_id)
    if stored is None and live is None and not impressions:
        return None
    consent = engine.consent
    consent.refresh()
    return {
        "format": FORMAT, "user_id": user_id, "exported_at": time.time(),
        "profile": {"id": user_id, "traits": dict(stored.traits), "consent": dict(stored.consent)} if stored else None,
        "consent_in_effect": {**{p: consent.allows(user_id, p) for p in PURPOSES},
                              "default": "required" if consent.required else "allowed"},
        "online_state": (activity(engine.state, user_id, live, engine.segments.profile(user_id, live))
                         if live is not None else None),
        # browser keys bound to the person (api.keys_api), without secrets; other keys belong to applications
        "keys": [public(r) for r in engine.stores.keys.list() if r.user_id == user_id and r.kind == "key"],
        "audit": _audit_records(engine, user_id),
        "impressions": impressions,
    }


async def _chunks(engine: Engine, user_id: str, head: dict[str, Any]) -> AsyncIterator[bytes]:
    counts = {"events": 0, "impressions": len(head["impressions"]), "audit": len(head["audit"])}
    yield _encode(head)[:-1] + b',"events":['  # the head object, left open
    after, first = 0, True
    while True:
        page = await run_in_threadpool(engine.stores.events.events_for_user, user_id, after, PAGE)
        if page:
            body = b",".join(_encode(_event(seq, e)) for seq, e in page)
            yield body if first else b"," + body
            first = False
            counts["events"] += len(page)
            after = page[-1][0]
        if len(page) < PAGE:
            break
    yield b'],"counts":' + _encode(counts) + b"}"


async def export_user(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    user_id = request.path_params["id"]
    head = await run_in_threadpool(_head, engine, user_id)
    if head is None:
        return USERS._not_found(user_id)
    audit.record(request, "users.export", user_id)  # who took a copy of a person's data, and when
    filename = "user-export.json"
    return StreamingResponse(_chunks(engine, user_id, head), media_type="application/json",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                      "Cache-Control": "no-store"})
