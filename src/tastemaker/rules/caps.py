"""Caps: at most ``max_items`` items per brand (or per category) in one list.

Applied to a list already in display order: the items over the cap are demoted below all
the others (in their order), so the visible top-n obeys the cap whenever enough other
items exist; with ``strict`` they are dropped instead, and the list may come out shorter.
The category of an item is its first (primary) category, which keeps the rule a single
vectorised pass; items without a brand/category are never capped.

>>> over_cap(np.array([0, 0, 1, 0, -1, 1]), 2).tolist()
[False, False, False, True, False, False]
>>> over_cap(np.array(["a", "a", "b", "a", None, "b"], dtype=object), 2).tolist()
[False, False, False, True, False, False]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from tastemaker.rules.schedule import ALWAYS, Schedule


@dataclass(frozen=True)
class Cap:
    """At most ``max_items`` per ``kind`` value ("brand" or "category") in a list."""

    kind: Literal["brand", "category"]
    max_items: int
    name: str = ""
    strict: bool = False
    schedule: Schedule = field(default=ALWAYS, kw_only=True)

    def __post_init__(self) -> None:
        if self.kind not in ("brand", "category"):
            raise ValueError("a cap is per 'brand' or per 'category'")
        if self.max_items < 1:
            raise ValueError("a cap allows at least 1 item")
        if not self.name:
            object.__setattr__(self, "name", f"cap:{self.kind}<={self.max_items}")


def over_cap(labels: np.ndarray, max_items: int) -> np.ndarray:
    """For group labels in display order: True where an item is beyond the first
    ``max_items`` of its group. Labels are int codes (-1: no group, never over; see
    ``RuleEnv.group_codes``) or objects (None: no group)."""
    n = len(labels)
    if n <= max_items:
        return np.zeros(n, dtype=bool)
    if labels.dtype == object:
        codes_map: dict[object, int] = {}
        labels = np.fromiter((-1 if x is None else codes_map.setdefault(x, len(codes_map)) for x in labels.tolist()),
                             np.int64, n)
    codes = labels
    # In a stable sort by group, a group's items are contiguous and in display order, so an
    # item is beyond the first max_items of its group exactly when the item max_items places
    # before it in the sort has the same group.
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    beyond = np.zeros(n, dtype=bool)
    np.equal(sorted_codes[max_items:], sorted_codes[:-max_items], out=beyond[max_items:])
    over = np.empty(n, dtype=bool)
    over[order] = beyond
    over &= codes >= 0
    return over
