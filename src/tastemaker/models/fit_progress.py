"""Progress of long fits, reported to whoever trains (the train job, the CLI renders it).

Model code never prints. A composite family (the hybrid) calls :func:`report` before each
member fit; the caller installs a callback with :func:`reporting` for the duration of its
fit. The callback lives in a ``ContextVar``, so two trainings in two threads (the server's
retrain thread and a request) never see each other's reports, and a fit with no callback
installed pays one ``ContextVar.get``.

Example:
    >>> seen = []
    >>> with reporting(seen.append):
    ...     report("fit ease")
    >>> report("nobody listens"); seen
    ['fit ease']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_hook: ContextVar[Callable[[str], None] | None] = ContextVar("tastemaker_fit_progress", default=None)


@contextmanager
def reporting(callback: Callable[[str], None] | None) -> Iterator[None]:
    """Send the :func:`report` calls made inside the block to ``callback`` (None: drop them)."""
    token = _hook.set(callback)
    try:
        yield
    finally:
        _hook.reset(token)


def report(message: str) -> None:
    """Tell the installed callback (if any) what the fit is about to do."""
    callback = _hook.get()
    if callback is not None:
        callback(message)
