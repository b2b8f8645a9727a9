"""A write that fails for lack of space: ``507 Insufficient Storage``, and not ready until space is back.

Any store raises :class:`~tastemaker.storage.protocols.StorageFull` (an ``OSError`` with
errno ENOSPC) when a write finds no space; a file write raises ``OSError`` ENOSPC (or
EDQUOT, a quota) itself. Both become a 507 problem with ``Retry-After``: the client's data
was not stored (events are not acknowledged) and the same request may succeed later, which
a 500 ("a bug") does not say. The app then reports not ready on ``/readyz`` (a load balancer
sends writes elsewhere) until a probe write of :data:`PROBE_BYTES` succeeds again.
"""

from __future__ import annotations

import errno
import logging
import time

from starlette.requests import Request
from starlette.responses import Response

from tastemaker.api.responses import problem
from tastemaker.storage.protocols import ArtifactStore

log = logging.getLogger(__name__)

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
RETRY_AFTER_S = 30
PROBE_KEY = ".readyz-write-probe"
PROBE_BYTES = 1 << 20  # ready again only with room for more than a token write (a batch of events)


def is_no_space(exc: BaseException) -> bool:
    """True for a write refused for lack of space (StorageFull is an OSError with ENOSPC)."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


class StorageHealth:
    """Whether this process's writes are failing for lack of space."""

    def __init__(self) -> None:
        self.failing: str | None = None  # what the last failed write said, while space is short
        self.since: float | None = None

    def failed(self, exc: OSError) -> None:
        if self.failing is None:
            self.since = time.time()
        self.failing = exc.strerror or str(exc)

    def check(self, artifacts: ArtifactStore) -> str | None:
        """None when writes can be expected to succeed; else why not.

        Costs nothing while no write has failed; after a failure, each call probes with a
        real write (atomic, fsynced, then deleted), so readiness comes back by itself once
        space is freed, even if no client writes meanwhile.
        """
        if self.failing is None:
            return None
        try:
            artifacts.put(PROBE_KEY, bytes(PROBE_BYTES))
            artifacts.delete(PROBE_KEY)
        except OSError as exc:
            if not is_no_space(exc):
                raise
            self.failing = exc.strerror or str(exc)
            return f"writes fail for lack of space ({self.failing}); ready again once a probe write succeeds"
        log.info("storage has space again after %.0f s of failed writes", time.time() - (self.since or time.time()))
        self.failing = self.since = None
        return None


async def os_error(request: Request, exc: OSError) -> Response:
    """The app's handler for ``OSError``: 507 when space ran out, else the generic 500."""
    if not is_no_space(exc):
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, "Internal Server Error", "the error was logged")
    request.app.state.storage_health.failed(exc)
    log.error("write refused for lack of space on %s %s: %s", request.method, request.url.path, exc)
    return problem(507, "Insufficient Storage",
                   f"the server has no space left to store this write ({exc.strerror or exc}); it was not stored. "
                   f"Retry after space is freed.", headers={"Retry-After": str(RETRY_AFTER_S)})


HANDLERS = {OSError: os_error}
