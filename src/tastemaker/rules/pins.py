"""Pinned items: a given item at a given position of the list.

Positions are 1-based, as a merchandiser says them ("position 1" is the top). When two
active pins ask for the same position, the one declared first gets it and the other takes
the next free position below. A pin beyond the end of the list lands at its end. Whether a
pinned item may be shown at all is the engine's business: filters win over pins (see
:mod:`tastemaker.rules.engine`).

>>> place_pins([10, 11, 12, 13], [(13, 1), (12, 1)])
[13, 12, 10, 11]
>>> place_pins([10, 11], [(7, 5)])
[10, 11, 7]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tastemaker.rules.schedule import ALWAYS, Schedule


@dataclass(frozen=True)
class Pin:
    """Show ``item_id`` at ``position`` (1-based) while ``schedule`` is active."""

    item_id: str
    position: int
    name: str = ""
    schedule: Schedule = field(default=ALWAYS, kw_only=True)

    def __post_init__(self) -> None:
        if self.position < 1:
            raise ValueError("a pin position starts at 1")
        if not self.name:
            object.__setattr__(self, "name", f"pin:{self.item_id}@{self.position}")


def resolve_slots(positions: Sequence[int]) -> list[int]:
    """Final 0-based slots for pins given in declaration order (1-based positions):
    earlier pins keep their position, later ones move down past taken slots.

    >>> resolve_slots([1, 1, 2, 5])
    [0, 1, 2, 4]
    """
    taken: set[int] = set()
    out = []
    for p in positions:
        slot = p - 1
        while slot in taken:
            slot += 1
        taken.add(slot)
        out.append(slot)
    return out


def place_pins(order: Sequence[int], pins: Sequence[tuple[int, int]]) -> list[int]:
    """``order`` (row ids, best first) with each ``(row, position)`` pin moved or inserted at
    its position; rows pinned are taken out of their organic place first."""
    if not pins:
        return list(order)
    pinned_rows = {row for row, _ in pins}
    out = [r for r in order if r not in pinned_rows]
    slots = resolve_slots([p for _, p in pins])
    for slot, (row, _) in sorted(zip(slots, pins), key=lambda t: t[0]):
        out.insert(min(slot, len(out)), row)
    return out
