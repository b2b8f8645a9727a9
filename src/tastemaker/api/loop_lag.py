"""How late the event loop wakes up: the stall every request in flight shares.

A task sleeps ``INTERVAL_S`` in a loop and records how much later than asked it woke.
Anything that holds the loop thread (a long batch apply, a collection, a re-cut splice)
shows here whichever request it delayed, so ``/metrics`` can tell a slow handler from a
stalled process. Cost: about 100 wake-ups a second, a few microseconds each.
"""

from __future__ import annotations

import asyncio

from tastemaker.heap import PauseHistogram

INTERVAL_S = 0.01


async def watch_loop_lag(histogram: PauseHistogram, interval_s: float = INTERVAL_S) -> None:
    """Record the loop's wake-up delay into ``histogram`` until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        histogram.add(max(0.0, loop.time() - asked))
