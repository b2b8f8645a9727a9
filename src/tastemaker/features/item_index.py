"""Dense integer indices for item ids, so per-item state lives in numpy arrays."""

from __future__ import annotations

import threading

import numpy as np

# New ids are rare next to lookups, and a model being loaded in the background adds its items
# while ingest adds others: one lock for the (rare) insert keeps two ids off one position.
_INSERT = threading.Lock()


class ItemIndex:
    """Maps item ids to 0..n-1 and back; indices are never reused.

    >>> index = ItemIndex()
    >>> index.add("a"), index.add("b"), index.add("a")
    (0, 1, 0)
    >>> index.ids[1]
    'b'
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.positions: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, item_id: str) -> int:
        pos = self.positions.get(item_id)
        if pos is None:
            with _INSERT:
                pos = self.positions.get(item_id)
                if pos is None:
                    pos = len(self.ids)
                    self.ids.append(item_id)  # before the mapping: a reader never sees a position past ids
                    self.positions[item_id] = pos
        return pos

    def get(self, item_id: str) -> int | None:
        return self.positions.get(item_id)


def grown(array: np.ndarray, size: int, fill: float | int | bool = 0) -> np.ndarray:
    """``array`` itself if it holds ``size`` entries, else a copy grown by doubling."""
    if len(array) >= size:
        return array
    out = np.full(max(size, 2 * len(array), 1024), fill, dtype=array.dtype)
    out[: len(array)] = array
    return out
