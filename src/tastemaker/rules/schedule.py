"""When a rule is in force: start/end windows for promotions and seasonal campaigns.

A window is half-open, ``start <= now < end``: a campaign that ends at midnight is off at
midnight exactly, and the next one that starts at midnight is on. Either bound may be open.
``now`` is the request time in epoch seconds (the engine passes the wall clock; tests and
replays pass their own).

>>> s = Schedule.parse("2024-12-01T00:00:00Z", "2024-12-25T00:00:00Z")
>>> s.active(s.start), s.active(s.end), s.active(s.end - 1)
(True, False, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tastemaker.schema.timestamps import YEAR_ONE, parse_timestamp


@dataclass(frozen=True, slots=True)
class Schedule:
    start: float = -math.inf
    end: float = math.inf

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError("a schedule must end after it starts")

    @staticmethod
    def parse(start: float | str | None = None, end: float | str | None = None) -> Schedule:
        """From epoch seconds or ISO 8601 strings (``None`` leaves that side open);
        raises ``ValueError`` naming the bad value."""
        lo = -math.inf if start is None else parse_timestamp(start, min_epoch=YEAR_ONE)
        hi = math.inf if end is None else parse_timestamp(end, min_epoch=YEAR_ONE)
        return Schedule(lo, hi)

    def active(self, now: float) -> bool:
        return self.start <= now < self.end

    @property
    def always(self) -> bool:
        return self.start == -math.inf and self.end == math.inf


ALWAYS = Schedule()
