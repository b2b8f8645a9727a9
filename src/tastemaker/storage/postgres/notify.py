"""Change tokens without a round trip per request: PostgreSQL LISTEN/NOTIFY invalidates a cache.

The read path asks "did the users (consent), the experiments, the keys change?" on every
request. A query each (~150 us here) made the distributed read path three round trips slower
than the embedded one, where the same question is a read of SQLite's shared memory. Instead:

* every counter bump also runs ``pg_notify(<channel>, <counter>)`` inside the writing
  transaction; PostgreSQL delivers it to every listener when (and only if) it commits;
* :class:`TokenCache` keeps the last token read per counter and one connection per process
  (a daemon thread) LISTENing on the schema's channel; a notification drops that counter's
  entry, so the next ``token`` reads it again (one round trip per change, not per request);
* a process's own commits drop their entries at once too (:meth:`TokenCache.invalidate`,
  called after COMMIT): its next read never waits for its own notification;
* a generation number per counter keeps a read that raced with a notification from caching
  the value from before it; while the listener is down (connecting, server restart) nothing
  is cached and every ``token`` is a query, as before.

Other workers see a change once the notification reaches them: about a loopback round trip
after the commit.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import psycopg

log = logging.getLogger(__name__)
RECONNECT_S = 1.0
POLL_S = 0.2  # how often the listener looks up from waiting, to notice close()


def channel(schema: str) -> str:
    """The notification channel of ``schema`` (PostgreSQL names are at most 63 bytes).

    >>> channel("public")
    'tastemaker_public'
    """
    return f"tastemaker_{schema}"[:63]


class TokenCache:
    """Counter tokens cached until a notification (or a local commit) says the counter moved."""

    def __init__(self, url: str, schema: str, read: Callable[[str], bytes]):
        self.url, self.channel, self.read = url, channel(schema), read
        self._values: dict[str, bytes] = {}
        self._generation: dict[str, int] = {}
        self._epoch = 0  # moves when everything is forgotten (listener (re)started or lost)
        self._lock = threading.Lock()
        self._listening = False
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def token(self, name: str) -> bytes:
        """The counter's token: from the cache while the listener runs, else one query."""
        value = self._values.get(name)
        if value is not None:
            return value
        if self._thread is None:
            self._start()
        seen = (self._epoch, self._generation.get(name, 0))
        value = self.read(name)
        with self._lock:
            if self._listening and (self._epoch, self._generation.get(name, 0)) == seen:
                self._values[name] = value
        return value

    def invalidate(self, name: str | None = None) -> None:
        """Forget ``name`` (every counter when None): it moved, or may have."""
        with self._lock:
            if name is None:
                self._values.clear()
                self._epoch += 1
            else:
                self._values.pop(name, None)
                self._generation[name] = self._generation.get(name, 0) + 1

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="tastemaker-pg-listen", daemon=True)
                self._thread.start()

    def _listen(self) -> None:
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self.invalidate()  # whatever moved before we listened
                    with self._lock:
                        self._listening = True
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=POLL_S):
                            self.invalidate(note.payload)
            except psycopg.Error as exc:
                log.warning("change-token listener lost its connection (%s); reading tokens per request meanwhile", exc)
            finally:
                with self._lock:
                    self._listening = False
                self.invalidate()
            self._closed.wait(RECONNECT_S)

    def close(self) -> None:
        """Stop listening: the thread leaves (closing its connection) within ``POLL_S``."""
        self._closed.set()
        with self._lock:
            self._listening = False
        self.invalidate()
