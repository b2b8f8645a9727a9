"""``POST /v1/events``: one event or a batch; answers once they are durable and applied."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.body import body_limit, read_body
from tastemaker.api.responses import JSONResponse


async def post_events(request: Request) -> Response:
    engine = request.app.state.engine
    result = await engine.ingest.ingest(await read_body(request, body_limit(request, "events")))
    metrics = request.app.state.metrics
    metrics.events_accepted += result.accepted
    metrics.events_duplicate += result.duplicates
    return JSONResponse(result.to_dict(), status_code=200)
