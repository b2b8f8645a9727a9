"""Erasure over HTTP: ``DELETE /v1/users/{id}?erase=true`` and ``GET /v1/privacy/jobs[/{id}]``
(erasure jobs and the periodic retention jobs, privacy.retention).

The request itself tombstones the id and drops the user's online state (the next
recommendation for the id is a new user's) and answers ``202`` with the job; the heavy part
(un-counting aggregates, deleting from the log and its segments, a new snapshot, VACUUM)
runs in a thread whose state changes are sent to the event loop, under the ingest apply
lock, so they never interleave with a batch being applied.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api import audit
from tastemaker.api.documents import USERS
from tastemaker.api.auth import has_permission
from tastemaker.api.responses import JSONResponse, problem
from tastemaker.schema.errors import FieldError

# job threads by the engine they work on: a server's shutdown waits for its own jobs only
_threads: dict[threading.Thread, Any] = {}


def _on_loop(engine, loop: asyncio.AbstractEventLoop) -> Callable[[Callable[[], Any]], Any]:
    """Run a state change on ``loop``, under the ingest apply lock, from a worker thread.

    When that loop no longer runs (an app driven without its lifespan, whose loop ended with
    the request), nothing can be applying a batch on it: the change runs here, directly.
    Before, the coroutine was created for a closed loop (never awaited) or scheduled on a
    stopped one (its result never came, and the thread, and a later shutdown joining it, hung).
    """
    def run(fn: Callable[[], Any]) -> Any:
        async def locked() -> Any:
            async with engine.ingest._apply_lock(loop):
                return fn()
        while loop.is_running():
            coro = locked()
            try:
                future = asyncio.run_coroutine_threadsafe(coro, loop)
            except RuntimeError:  # closed between the check and the call
                coro.close()
                break
            while True:
                try:
                    return future.result(timeout=0.2)
                except concurrent.futures.TimeoutError:
                    if not loop.is_running():  # stopped before fn ran (fn has no await: it runs whole or not at all)
                        future.cancel()
                        return fn()
        return fn()
    return run


async def delete_user(request: Request) -> Response:
    """Plain ``DELETE`` removes the profile document; ``?erase=true`` erases the person (``privacy.manage``)."""
    erase = request.query_params.get("erase", "false").lower()
    if erase not in ("true", "false", "1", "0"):
        return problem(400, "Invalid parameter", errors=[FieldError("erase", "must be true or false")])
    if erase in ("false", "0"):
        return await USERS.delete(request)
    key = request.scope.get("tastemaker.key")
    if key is not None and not has_permission(key, "privacy.manage"):  # the middleware checks it first; kept for apps without it
        return problem(403, "Forbidden", "erasing a user needs the 'privacy.manage' permission (roles: admin, privacy_officer)")
    engine = request.app.state.engine
    user_id = request.path_params["id"]
    loop = asyncio.get_running_loop()
    eraser = engine.eraser
    eraser.on_state = _on_loop(engine, loop)
    async with engine.ingest._apply_lock(loop):  # not between two slices of a batch being applied
        job = eraser.begin(user_id)
    audit.record(request, "user.erase", job.subject, {"job": job.id})  # the keyed digest, not the id
    thread = threading.Thread(target=_run, args=(eraser, job, user_id), name=f"erasure-{job.id}", daemon=True)
    _threads[thread] = engine
    thread.start()
    return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/v1/privacy/jobs/{job.id}"})


def _run(eraser, job, user_id: str) -> None:
    try:
        eraser.run(job, user_id)
    finally:
        _threads.pop(threading.current_thread(), None)


def _jobs(engine) -> dict[str, Any]:
    """Erasure and retention jobs by id (retention jobs say ``"kind": "retention"``)."""
    return {**engine.eraser.jobs, **engine.retention.jobs}


async def get_job(request: Request) -> Response:
    job = _jobs(request.app.state.engine).get(request.path_params["id"])
    if job is None:
        return problem(404, "Unknown privacy job", errors=[FieldError("id", f"no privacy job '{request.path_params['id']}'")])
    return JSONResponse(job.to_dict())


async def list_jobs(request: Request) -> Response:
    jobs = sorted(_jobs(request.app.state.engine).values(), key=lambda j: j.created_at, reverse=True)
    return JSONResponse({"jobs": [j.to_dict() for j in jobs[:100]]})


async def retention_periodically(engine, every_s: float) -> None:
    """Apply the retention policy every ``every_s`` seconds (the server's lifespan): the job
    runs in a thread; its state swap and snapshot run on this loop under the apply lock.
    Nodes of a deployment take turns (the ``retention`` lease, training.leases): each waits
    for the one deleting from the shared stores, then rebuilds its own state."""
    from tastemaker.training.leases import RETENTION, LeaseHeld

    loop = asyncio.get_running_loop()
    lease = engine.leases[RETENTION]
    while True:
        await asyncio.sleep(every_s)
        while True:
            try:
                await loop.run_in_executor(None, lease.hold)
                break
            except LeaseHeld:
                await asyncio.sleep(min(every_s, 5.0))
        try:
            await _retain(engine, loop)
        finally:
            await loop.run_in_executor(None, lease.let_go)


async def _retain(engine, loop: asyncio.AbstractEventLoop) -> None:
    """One retention run of ``engine``, in a thread; audited when done."""
    retainer = engine.retention
    retainer.on_state = _on_loop(engine, loop)
    job = retainer.begin(dry_run=False)
    thread = threading.Thread(target=retainer.run, args=(job,), name=f"retention-{job.id}", daemon=True)
    _threads[thread] = engine
    thread.start()
    await loop.run_in_executor(None, thread.join)
    _threads.pop(thread, None)
    if job.status == "done":
        audit.record_server(engine, "privacy.retention", job.id, {"events_deleted": job.steps.get("events_deleted")})


async def wait_for_jobs(engine: Any = None) -> None:
    """At shutdown, before the engine closes: let this engine's running jobs finish (the loop
    still runs); None: every engine's."""
    loop = asyncio.get_running_loop()
    for thread, owner in list(_threads.items()):
        if engine is None or owner is engine:
            await loop.run_in_executor(None, thread.join)
