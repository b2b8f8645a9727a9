"""A private asyncio event loop on a daemon thread, for asyncio clients behind synchronous protocols.

The store protocols are synchronous (the engine calls them from worker threads and from
the server's loop through ``to_thread``); nats-py is asyncio only. Each store owns one loop
on one thread and every call is a ``run_coroutine_threadsafe`` round trip: 42 us p50,
85-371 us p99 on the shared 2-core box (bench/event_log_backends.py, "loop thread
hand-off"), which is why ``append`` sends a whole batch in one call.

>>> import asyncio
>>> loop = LoopThread("doctest")
>>> loop.call(asyncio.sleep(0, result=42))
42
>>> loop.close()
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


class LoopThread:
    """One event loop running forever on its own daemon thread until :meth:`close`."""

    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"tastemaker-{name}-loop", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run ``coro`` on the loop and wait for its result (its exception is raised here)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("LoopThread.call from its own loop would deadlock")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()
