"""Read-your-writes across workers: ``X-Tastemaker-After: <position>`` and the log follower's lifecycle.

``POST /v1/events`` answers with ``X-Tastemaker-Position``: the log position of the batch's
last event. A request carrying that position in ``X-Tastemaker-After`` is answered only once
this worker's state has applied the log at least that far: it waits (at most
``TASTEMAKER_READ_WAIT_S``, 2 s by default) and otherwise answers ``503`` naming the position
it needed and the one it has, with ``Retry-After: 1``. Without the header a worker answers from
what it has applied: the follower keeps it within a few milliseconds of the log.

Installed only where the stores can be followed (the distributed deployment). The embedded
deployment does not need it: every read there first catches up with the shared SQLite log (one
``PRAGMA``), so any position a write returned is visible to the next request on any worker.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tastemaker.api.responses import problem
from tastemaker.engine import Engine
from tastemaker.ingest.follower import StreamFollower
from tastemaker.schema.errors import FieldError
from tastemaker.storage.factory import open_artifacts

HEADER = "X-Tastemaker-After"
POSITION_HEADER = "X-Tastemaker-Position"
_NAME = HEADER.lower().encode()


async def start_following(engine: Engine) -> StreamFollower | None:
    """Follow the deployment's shared log into ``engine``'s state from now on (None when the
    stores cannot be followed: the embedded deployment). Call on the server's event loop."""
    follow = engine.stores.follow
    if follow is None:
        return None
    settings = engine.settings
    follower = StreamFollower(engine.processor, follow)
    # a forked snapshot writer opens its own connections (the parent's pool is not fork-safe)
    engine.processor.fork_artifacts = lambda: open_artifacts(settings)
    await follower.start()
    engine.ingest.follower = follower
    engine.ingest.follow_wait_s = settings.read_wait_s
    return follower


async def stop_following(engine: Engine, follower: StreamFollower | None) -> None:
    """Stop following (before the stores close); ingest applies in place again."""
    if follower is not None:
        engine.ingest.follower = None
        await follower.stop()


def _position(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == _NAME:
            return value
    return None


class ReadAfterMiddleware:
    """Holds a request that names a log position until this worker has applied it."""

    def __init__(self, app: ASGIApp, engine: Engine):
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = _position(scope) if scope["type"] == "http" else None
        if raw is not None:
            refused = await self._wait(raw)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _wait(self, raw: bytes):
        text = raw.decode("latin-1").strip()
        if not text.isascii() or not text.isdigit() or len(text) > 19:
            return problem(400, "Invalid header", errors=[FieldError(
                HEADER, f"must be a log position (a non-negative integer, as POST /v1/events returns in "
                        f"{POSITION_HEADER}), not {text[:40]!r}")])
        position = int(text)
        engine = self.engine
        follower = engine.ingest.follower
        wait_s = engine.settings.read_wait_s
        if follower is not None:
            if await follower.wait_for(position, wait_s):
                return None
            applied = follower.position
        else:  # not following (an app served without its lifespan): read the log now
            engine.catch_up()
            applied = engine.state.applied_seq
            if position <= applied:
                return None
        return problem(503, "Position not reached",
                       f"this worker has applied the event log up to position {applied}; position {position} "
                       f"({HEADER}) was not reached within {wait_s:g} s: retry, or send the request without it",
                       headers={"Retry-After": "1"})
