"""Recommendation ids: unique across processes and restarts, without a syscall per request.

A random 48-bit prefix per process (drawn again in a forked child) plus a counter: 24 hex
characters like ``os.urandom(12).hex()``, at the cost of an increment instead of a
``getrandom`` call on every response.
"""

from __future__ import annotations

import itertools
import os


class RecommendationIds:
    """
    >>> ids = RecommendationIds()
    >>> a, b = ids.next(), ids.next()
    >>> len(a) == len(b) == 24 and a != b and a[:12] == b[:12]
    True
    """

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


recommendation_ids = RecommendationIds()
