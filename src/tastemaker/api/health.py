"""Liveness, readiness and metrics."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.metrics import CONTENT_TYPE
from tastemaker.api.responses import JSONResponse
from tastemaker.api.storage_errors import RETRY_AFTER_S


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready once state is restored, the database answers and writes are not failing for lack of space."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        engine.catch_up()  # report this process's state as the next request would see it
        last = engine.stores.events.last_seq()
        health = request.app.state.storage_health
        # Only after a write failed for lack of space: a probe write, off the event loop.
        no_space = await run_in_threadpool(health.check, engine.stores.artifacts) if health.failing else None
    except Exception as exc:  # the database is unreachable: not ready, say why
        return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
    if no_space is not None:  # writes fail for lack of space: send traffic elsewhere until a probe write succeeds
        return JSONResponse({"status": "storage_full", "detail": no_space}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_S)})
    state = engine.state
    return JSONResponse({
        "status": "ready",
        "applied_seq": state.applied_seq,
        "log_seq": last,
        "items": state.catalog.size(),
        "users": len(state.users),
    })


async def metrics(request: Request) -> Response:
    engine = request.app.state.engine
    engine.catch_up()
    state = engine.state
    gauges = {
        "state_applied_seq": state.applied_seq,
        "state_users": len(state.users),
        "state_items_indexed": len(state.index),
        "catalog_items": state.catalog.size(),
        "covisitation_pairs": state.covisitation.nnz(),
    }
    guard = engine.processor.guard  # bot/shilling holds and stream anomalies (features.guard)
    if guard is not None:
        gauges.update(guard.gauges())
    return Response(request.app.state.metrics.render(gauges), media_type=CONTENT_TYPE)
