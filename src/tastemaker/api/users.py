"""``GET /v1/users/{id}``: the stored profile plus what the engine knows right now."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.documents import USERS
from tastemaker.api.responses import JSONResponse
from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState

def activity(state: OnlineState, user_id: str, user: UserState, segments: dict[str, Any], limit: int = 20) -> dict[str, Any]:
    """The live part of a profile; ``segments`` is ``SegmentBook.profile`` (segments, lifecycle,
    rfm, churn_probability, clv)."""
    ids = state.index.ids
    top_categories = sorted(user.affinity.items(), key=lambda kv: -kv[1])[:10]
    return {
        "event_count": user.event_count,
        "event_types": dict(user.type_counts),
        "first_seen": user.first_ts,
        "last_seen": user.last_ts,
        "recent": [{"item_id": ids[r.item], "type": r.type, "timestamp": r.ts} for r in reversed(user.recent[-limit:])],
        "session": {
            "id": user.session_id_for(user_id),
            "started": user.session_start,
            "items": [ids[i] for i in user.session_items],
        },
        "purchased": sorted(ids[i] for i in user.purchased)[:200],
        "category_affinity": {k: round(v, 4) for k, v in top_categories},
        "recent_queries": list(user.queries),
        "features": state.features.features_for("user", user_id, state.clock) or {},  # streaming features
        **segments,
    }


async def get_user(request: Request) -> Response:
    engine = request.app.state.engine
    engine.catch_up()
    user_id = request.path_params["id"]
    stored = engine.stores.users.get(user_id)
    live = engine.state.users.get(user_id)
    if stored is None and live is None:
        return USERS._not_found(user_id)
    # Every field always present, as the UserProfile schema promises: the stored record omits
    # its defaults (empty traits and consent), and a user known only from events has none stored.
    body: dict[str, Any] = {"id": user_id, "traits": {}, "consent": {}}
    if stored is not None:
        body.update(msgspec.to_builtins(stored))
    body["activity"] = (activity(engine.state, user_id, live, engine.segments.profile(user_id, live))
                        if live is not None else None)
    return JSONResponse(body)
